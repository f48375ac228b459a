import { columns, type LiveState } from "../live";
import { ProgressBar } from "./bits";

/** The experiment's stages in pipeline columns (sync → serve → infer → eval → report). */
export function StageGraph({ live }: { live: LiveState }) {
  const cols = columns(live);
  if (!cols.length) return <p className="muted">Waiting for the plan…</p>;
  return (
    <div className="stage-graph" aria-label="stage graph">
      {cols.map((col, i) => (
        <div className="stage-col" key={col.kind}>
          <h4>
            {col.kind}
            {i < cols.length - 1 && <span className="arrow"> →</span>}
          </h4>
          {col.stages.map((stage) => {
            const state = stage.state ?? "planned";
            return (
              <div
                key={stage.id}
                className={`stage state-${state}`}
                data-testid="stage"
                data-state={state}
                title={stage.error ?? stage.reason ?? stage.id}
              >
                <div className="stage-name">{stage.name ?? stage.id}</div>
                <div className="stage-state">{state}</div>
                {stage.kind === "infer" && stage.total ? (
                  <ProgressBar value={(stage.done ?? 0) / stage.total} label={`${stage.done ?? 0}/${stage.total}${stage.failed ? `, ${stage.failed} failed` : ""}`} />
                ) : null}
                {stage.error && <div className="stage-error">{stage.error.split("\n")[0]}</div>}
              </div>
            );
          })}
        </div>
      ))}
    </div>
  );
}
