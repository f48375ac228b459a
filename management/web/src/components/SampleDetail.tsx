import { useState } from "react";
import type { Sample } from "../api";
import { fmtNumber } from "../format";
import { answerBox } from "../samples";
import { withToken } from "../token";

/** The image with the reference `answer_bbox` drawn over it (in image pixels). */
export function SampleImage({ sample }: { sample: Sample }) {
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const [failed, setFailed] = useState(false);
  if (!sample.image_url) return <p className="muted">This sample has no image.</p>;
  const box = answerBox(sample);
  return (
    <div className="sample-image">
      {failed ? (
        <div className="error">The image of {sample.sample_id} could not be loaded.</div>
      ) : (
        <div className="image-frame">
          <img
            src={withToken(sample.image_url)}
            alt={`image of ${sample.sample_id}`}
            onLoad={(e) => setSize({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })}
            onError={() => setFailed(true)}
          />
          {box && size && (
            <svg className="bbox" viewBox={`0 0 ${size.w} ${size.h}`} preserveAspectRatio="none" data-testid="answer-bbox">
              <rect x={box[0]} y={box[1]} width={box[2] - box[0]} height={box[3] - box[1]} />
            </svg>
          )}
        </div>
      )}
    </div>
  );
}

/** One sample: image, question, reference, then every run's answer and scores side by side. */
export function SampleDetail({ sample, answers, onClose }: { sample: Sample; answers: Sample[]; onClose: () => void }) {
  const metrics = [...new Set(answers.flatMap((a) => Object.keys(a.scores)))];
  return (
    <aside className="sample-detail" aria-label="sample detail" data-testid="sample-detail">
      <div className="detail-head">
        <h3>{sample.sample_id}</h3>
        <button onClick={onClose} aria-label="close (Escape)">
          ✕
        </button>
      </div>
      <SampleImage sample={sample} />
      <dl>
        <dt>question</dt>
        <dd data-testid="question">{sample.question ?? "–"}</dd>
        <dt>reference</dt>
        <dd data-testid="reference">{sample.reference ?? "–"}</dd>
        {sample.doc_class && (
          <>
            <dt>doc class</dt>
            <dd>{sample.doc_class}</dd>
          </>
        )}
      </dl>
      <table className="answers" aria-label="answers">
        <thead>
          <tr>
            <th>run</th>
            <th>answer</th>
            <th>latency s</th>
            {metrics.map((m) => (
              <th key={m}>{m}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {answers.map((a) => (
            <tr key={a.id} className={a.id === sample.id ? "current" : undefined} data-testid="answer-row">
              <td>{a.run}</td>
              <td className="answer">{a.answer ?? "–"}</td>
              <td className="num">{fmtNumber(a.latency_s, 2)}</td>
              {metrics.map((m) => (
                <td key={m} className="num">
                  {fmtNumber(a.scores[m])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </aside>
  );
}
