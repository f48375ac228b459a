import { useState } from "react";
import type { FieldRow, Sample, SampleAnswers } from "../api";
import { fmtNumber } from "../format";
import { useSampleAnswers } from "../hooks";
import { answerBox, charDiff, type DiffPart } from "../samples";
import { withToken } from "../token";
import { ErrorBox } from "./bits";

const ZOOMS = [0.5, 0.75, 1, 1.5, 2, 3];

/**
 * The image, fitted to the panel or zoomed (in a scrolling frame), with the dataset's
 * `answer_bbox` drawn over it in image pixels, so it stays on the answer at any zoom.
 */
export function SampleImage({ sample }: { sample: Sample }) {
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const [failed, setFailed] = useState(false);
  const [zoom, setZoom] = useState<number | null>(null); // null: fit the panel's width
  if (!sample.image_url) return <p className="muted">This sample has no image.</p>;
  const box = answerBox(sample);
  const step = (dir: 1 | -1) => {
    const now = zoom ?? 1;
    const next = dir > 0 ? ZOOMS.find((z) => z > now) : [...ZOOMS].reverse().find((z) => z < now);
    setZoom(next ?? now);
  };
  const width = zoom !== null && size ? size.w * zoom : undefined;
  return (
    <div className="sample-image">
      <div className="zoom-bar" role="toolbar" aria-label="image zoom">
        <button type="button" onClick={() => step(-1)} aria-label="zoom out">
          −
        </button>
        <button type="button" onClick={() => step(1)} aria-label="zoom in">
          +
        </button>
        <button type="button" onClick={() => setZoom(null)} aria-pressed={zoom === null}>
          fit
        </button>
        <button type="button" onClick={() => setZoom(1)} aria-pressed={zoom === 1}>
          100%
        </button>
        <span className="muted" data-testid="zoom">
          {zoom === null ? "fit" : `${Math.round(zoom * 100)}%`}
          {size ? ` · ${size.w}×${size.h} px` : ""}
        </span>
        {box && <span className="muted">· answer box in red</span>}
      </div>
      {failed ? (
        <div className="error">The image of {sample.sample_id} could not be loaded.</div>
      ) : (
        <div className={`image-scroll${zoom === null ? " fit" : ""}`}>
          <div className="image-frame" style={width ? { width } : undefined}>
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
        </div>
      )}
    </div>
  );
}

function Diffed({ parts, testid }: { parts: DiffPart[]; testid?: string }) {
  return (
    <div className="text-block" data-testid={testid}>
      {parts.map((p, i) =>
        p.kind === "same" ? (
          <span key={i}>{p.text}</span>
        ) : p.kind === "removed" ? (
          <del key={i} className="diff-removed">
            {p.text}
          </del>
        ) : (
          <ins key={i} className="diff-added">
            {p.text}
          </ins>
        ),
      )}
    </div>
  );
}

/** Reference and answer side by side; what differs, character by character, is marked. */
export function ReferenceAnswer({ reference, answer }: { reference: string | null; answer: string | null }) {
  const diff = reference !== null && answer !== null ? charDiff(reference, answer) : null;
  return (
    <div className="ref-answer">
      <section>
        <h4>reference</h4>
        {diff ? <Diffed parts={diff.reference} testid="reference" /> : <div className="text-block" data-testid="reference">{reference ?? "–"}</div>}
      </section>
      <section>
        <h4>answer</h4>
        {diff ? <Diffed parts={diff.answer} testid="answer" /> : <div className="text-block" data-testid="answer">{answer ?? "–"}</div>}
      </section>
    </div>
  );
}

function scoreClass(value: number | null | undefined): string {
  if (value === null || value === undefined) return "";
  return value >= 1 ? "score-ok" : value > 0 ? "score-part" : "score-bad";
}

/** KIE: reference / answer / each field metric's score, one row per field. */
export function FieldTable({ fields }: { fields: FieldRow[] }) {
  const metrics = [...new Set(fields.flatMap((f) => Object.keys(f.scores)))];
  return (
    <table className="fields" aria-label="fields">
      <thead>
        <tr>
          <th>field</th>
          <th>reference</th>
          <th>answer</th>
          {metrics.map((m) => (
            <th key={m} className="num">
              {m}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {fields.map((f) => (
          <tr key={f.field} data-testid="field-row" className={f.reference === null ? "extra" : undefined}>
            <th scope="row">{f.field}</th>
            <td>{f.reference ?? <span className="muted">not in reference</span>}</td>
            <td className={scoreClass(f.scores[metrics[0]])}>{f.answer ?? <span className="muted">missing</span>}</td>
            {metrics.map((m) => (
              <td key={m} className={`num ${scoreClass(f.scores[m])}`}>
                {fmtNumber(f.scores[m], 2)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type Answer = SampleAnswers["items"][number];

function scoreLine(a: Answer): string {
  const parts = Object.entries(a.scores).map(([m, v]) => `${m} ${fmtNumber(v, 2)}`);
  if (a.latency_s !== null) parts.push(`${fmtNumber(a.latency_s, 2)} s`);
  return parts.join(" · ");
}

/** Every run's answer to this sample, side by side: a field grid for KIE, cards for text. */
function AllAnswers({ items, current }: { items: Answer[]; current: number }) {
  const kie = items.every((a) => a.fields);
  if (kie) {
    const fields = [...new Set(items.flatMap((a) => a.fields!.map((f) => f.field)))];
    const cell = (a: Answer, field: string) => a.fields!.find((f) => f.field === field);
    const reference = (field: string) => items.map((a) => cell(a, field)?.reference).find((v) => v !== undefined && v !== null);
    return (
      <div className="table-scroll">
        <table className="fields all-models" aria-label="answers of every run">
          <thead>
            <tr>
              <th>field</th>
              <th>reference</th>
              {items.map((a) => (
                <th key={a.id} className={a.id === current ? "current" : undefined} data-testid="run-column">
                  {a.run}
                  <div className="muted">{scoreLine(a)}</div>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {fields.map((field) => (
              <tr key={field}>
                <th scope="row">{field}</th>
                <td>{reference(field) ?? "–"}</td>
                {items.map((a) => {
                  const f = cell(a, field);
                  const first = f ? Object.values(f.scores)[0] : undefined;
                  return (
                    <td key={a.id} className={scoreClass(first)}>
                      {f?.answer ?? <span className="muted">missing</span>}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  return (
    <div className="answer-cards">
      {items.map((a) => {
        const diff = a.reference !== null && a.answer !== null ? charDiff(a.reference, a.answer) : null;
        return (
          <article key={a.id} className={`answer-card${a.id === current ? " current" : ""}`} data-testid="answer-card">
            <header>
              <strong>{a.run}</strong>
              <span className="muted">
                {scoreLine(a)}
              </span>
            </header>
            {diff ? <Diffed parts={diff.answer} /> : <div className="text-block">{a.answer ?? "–"}</div>}
          </article>
        );
      })}
    </div>
  );
}

/**
 * One sample: image, question, the reference beside this run's answer (a character diff for
 * text, a per-field table for KIE), then the answers of every run of the experiment.
 */
export function SampleDetail({ experiment, row, onClose }: { experiment: number; row: number; onClose: () => void }) {
  const answers = useSampleAnswers(experiment, row);
  const items = answers.data?.items ?? [];
  const sample = items.find((a) => a.id === row);
  return (
    <aside className="sample-detail" aria-label="sample detail" data-testid="sample-detail">
      <div className="detail-head">
        <h3>{sample?.sample_id ?? answers.data?.sample_id ?? "…"}</h3>
        <span className="muted">
          {[sample?.run, sample?.doc_class, sample?.question_type].filter(Boolean).join(" · ")}
        </span>
        <button onClick={onClose} aria-label="close (Escape)">
          ✕
        </button>
      </div>
      <ErrorBox error={answers.error} />
      {sample && (
        <>
          <div className="question" data-testid="question">
            <span className="muted">question </span>
            {sample.question ?? "–"}
          </div>
          <div className="detail-body">
            <SampleImage key={sample.id} sample={sample} />
            <div className="detail-text">
              {sample.fields ? (
                <>
                  <h4>fields of this answer</h4>
                  <FieldTable fields={sample.fields} />
                  <details>
                    <summary>raw reference and answer</summary>
                    <ReferenceAnswer reference={sample.reference} answer={sample.answer} />
                  </details>
                </>
              ) : (
                <ReferenceAnswer reference={sample.reference} answer={sample.answer} />
              )}
            </div>
          </div>
          <h4>every run on this sample ({items.length})</h4>
          <AllAnswers items={items} current={row} />
        </>
      )}
    </aside>
  );
}
