import { Link, useParams } from "react-router-dom";
import { ErrorBox, ProgressBar, StatusBadge } from "../components/bits";
import { Leaderboard } from "../components/Leaderboard";
import { Plot } from "../components/Plot";
import { StageGraph } from "../components/StageGraph";
import { fmtBytesMb, fmtNumber, fmtTime } from "../format";
import { useCancelExperiment, useExperiment, useFigure, useFigures, useLeaderboard, useLiveEvents } from "../hooks";
import type { LiveState } from "../live";

const ENDED = new Set(["done", "failed", "cancelled"]);

function LiveStats({ live }: { live: LiveState }) {
  const infers = Object.values(live.stages).filter((s) => s.kind === "infer");
  const total = infers.reduce((n, s) => n + (s.total ?? 0), 0);
  const done = infers.reduce((n, s) => n + (s.done ?? 0), 0);
  const memory = Object.entries(live.resources);
  return (
    <div className="live-stats" aria-label="live stats">
      <div>
        <span className="label">samples</span> <span data-testid="samples-done">{done}</span>/{total || "?"}
      </div>
      <div>
        <span className="label">samples/s</span> <span data-testid="rate">{live.samplesPerSecond === null ? "–" : live.samplesPerSecond.toFixed(2)}</span>
      </div>
      <div>
        <span className="label">model server</span>{" "}
        {memory.length
          ? memory.map(([k, v]) => (
              <span key={k} className="resource">
                {k} {/mb$/i.test(k) ? fmtBytesMb(v) : fmtNumber(v, 1)}
              </span>
            ))
          : "–"}
      </div>
    </div>
  );
}

function Figure({ id, name, title }: { id: number; name: string; title: string }) {
  const figure = useFigure(id, name);
  return (
    <figure className="figure" data-testid="figure">
      {!(figure.data?.layout as { title?: unknown } | undefined)?.title && <figcaption>{title}</figcaption>}
      <ErrorBox error={figure.error} />
      {figure.data ? <Plot figure={figure.data} title={title} /> : <p className="muted">Loading…</p>}
    </figure>
  );
}

export function ExperimentPage() {
  const id = Number(useParams().id);
  const experiment = useExperiment(id);
  const exp = experiment.data;
  const active = exp ? !ENDED.has(exp.status) : false;
  const { live, connection, closeReason } = useLiveEvents(id, exp?.stages, Boolean(exp));
  const status = live.finished ?? exp?.status;
  const ended = status ? ENDED.has(status) : false;
  const board = useLeaderboard(id, ended);
  const figures = useFigures(id, ended);
  const cancel = useCancelExperiment(id);
  if (!Number.isInteger(id)) return <p className="error">Bad experiment id in the address.</p>;
  if (experiment.error) return <ErrorBox error={experiment.error} />;
  if (!exp) return <p className="muted">Loading…</p>;
  const stages = Object.values(live.stages);
  const finished = stages.filter((s) => ["done", "skipped", "failed"].includes(s.state ?? "")).length;
  return (
    <div className="experiment-page">
      <div className="title-row">
        <h2>
          #{exp.id} {exp.name} <StatusBadge status={status ?? exp.status} />
        </h2>
        <div className="actions">
          <Link to={`/experiments/${id}/samples`}>Samples</Link>
          <Link to={`/compare?a=${id}`}>Compare…</Link>
          {active && !live.finished && (
            <button onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              Cancel
            </button>
          )}
        </div>
      </div>
      <div className="meta">
        created {fmtTime(exp.created_at)}
        {exp.launched_by && <span data-testid="launched-by"> by {exp.launched_by}</span>}
        {" "}· finished {fmtTime(exp.finished_at)}
        {exp.cancelled_by && <span data-testid="cancelled-by"> · cancelled by {exp.cancelled_by}</span>}
        {" "}· events{" "}
        <span data-testid="connection">{connection}</span>
        {closeReason && <span className="error"> ({closeReason})</span>}
      </div>
      <ErrorBox error={live.error ?? exp.error} />
      <ErrorBox error={cancel.error} />
      <section aria-label="live">
        <h3>Stages</h3>
        <ProgressBar value={stages.length ? finished / stages.length : 0} label={`${finished}/${stages.length} stages`} />
        <LiveStats live={live} />
        <StageGraph live={live} />
      </section>
      {ended && (
        <>
          <section aria-label="leaderboard">
            <h3>Leaderboard</h3>
            <ErrorBox error={board.error} />
            {board.data && <Leaderboard rows={board.data.rows} />}
          </section>
          <section aria-label="figures">
            <h3>Figures</h3>
            <ErrorBox error={figures.error} />
            <div className="figures">
              {figures.data?.map((f) => (
                <Figure key={f.name} id={id} name={f.name} title={f.title} />
              ))}
              {figures.data?.length === 0 && <p className="muted">No figures: the experiment has no results.</p>}
            </div>
          </section>
        </>
      )}
    </div>
  );
}
