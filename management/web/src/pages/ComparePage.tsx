import { useState } from "react";
import { useSearchParams } from "react-router-dom";
import type { CompareMetric, CompareRun } from "../api";
import { ErrorBox } from "../components/bits";
import { fmtNumber } from "../format";
import { useCompare } from "../hooks";

/** A verdict for a metric row: the server's statistical one, else the sign of the delta. */
export function verdictOf(m: CompareMetric): { text: string; tone: "better" | "worse" | "same" | "unknown" } {
  if (m.verdict) {
    const v = m.verdict.toLowerCase();
    const tone = /better|improv/.test(v) ? "better" : /worse|regress/.test(v) ? "worse" : "same";
    return { text: m.verdict + (m.p_value !== undefined ? ` (p=${fmtNumber(m.p_value)})` : ""), tone };
  }
  if (m.delta === null) return { text: "n/a", tone: "unknown" };
  if (m.delta === 0) return { text: "same", tone: "same" };
  const better = m.delta > 0 === m.higher_is_better;
  return { text: better ? "b better (no test)" : "b worse (no test)", tone: better ? "better" : "worse" };
}

function RunComparison({ run }: { run: CompareRun }) {
  const side = (s: CompareRun["a"]) => `#${s.experiment_id} ${s.model} / ${s.dataset} / ${s.prompt}`;
  return (
    <section className="compare-run" data-testid="compare-run">
      <h3>
        {run.a.task}: {side(run.a)} → {side(run.b)}
      </h3>
      <p className="muted">
        {run.samples_shared} samples in both, {run.samples_changed} changed
        {run.significance ? "" : " · significance: install vlmhb-statistics on the server"}
      </p>
      <table className="compare">
        <thead>
          <tr>
            <th>metric</th>
            <th>a</th>
            <th>b</th>
            <th>Δ (b − a)</th>
            <th>CI of Δ</th>
            <th>verdict</th>
          </tr>
        </thead>
        <tbody>
          {run.metrics.map((m) => {
            const verdict = verdictOf(m);
            return (
              <tr key={m.metric}>
                <td>
                  {m.metric} {m.higher_is_better ? "↑" : "↓"}
                </td>
                <td className="num">{fmtNumber(m.a)}</td>
                <td className="num">{fmtNumber(m.b)}</td>
                <td className="num">{m.delta === null ? "–" : (m.delta > 0 ? "+" : "") + fmtNumber(m.delta)}</td>
                <td className="num">{m.ci_low !== undefined ? `[${fmtNumber(m.ci_low)}, ${fmtNumber(m.ci_high)}]` : "–"}</td>
                <td className={`verdict ${verdict.tone}`}>{verdict.text}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {run.changed.length > 0 && (
        <details>
          <summary>
            Changed samples ({run.changed.length}
            {run.samples_changed > run.changed.length ? ` of ${run.samples_changed}` : ""})
          </summary>
          <table className="changed">
            <thead>
              <tr>
                <th>sample</th>
                <th>answer a</th>
                <th>answer b</th>
                <th>scores a</th>
                <th>scores b</th>
              </tr>
            </thead>
            <tbody>
              {run.changed.map((c) => (
                <tr key={c.sample_id}>
                  <td>{c.sample_id}</td>
                  <td className="answer">{c.a.answer}</td>
                  <td className="answer">{c.b.answer}</td>
                  <td>{Object.entries(c.a.scores ?? {}).map(([k, v]) => `${k} ${fmtNumber(v)}`).join(", ")}</td>
                  <td>{Object.entries(c.b.scores ?? {}).map(([k, v]) => `${k} ${fmtNumber(v)}`).join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </section>
  );
}

export function ComparePage() {
  const [params, setParams] = useSearchParams();
  const a = params.get("a") ?? "";
  const b = params.get("b") ?? "";
  const [draft, setDraft] = useState({ a, b });
  const result = useCompare(a, b);
  return (
    <div className="compare-page">
      <h2>Compare</h2>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setParams({ a: draft.a.trim(), b: draft.b.trim() });
        }}
      >
        <label>
          A <input aria-label="a" value={draft.a} onChange={(e) => setDraft({ ...draft, a: e.target.value })} placeholder="experiment id or id:run" />
        </label>
        <label>
          B <input aria-label="b" value={draft.b} onChange={(e) => setDraft({ ...draft, b: e.target.value })} placeholder="experiment id or id:run" />
        </label>
        <button type="submit">Compare</button>
      </form>
      <p className="muted">
        Two experiments (every run they share: same model, dataset, prompt, task) or two runs as <code>ID:RUN</code>.
      </p>
      <ErrorBox error={result.error} />
      {result.isFetching && <p className="muted">Comparing…</p>}
      {result.data?.runs.map((run) => (
        <RunComparison key={`${run.a.run}|${run.b.run}`} run={run} />
      ))}
    </div>
  );
}
