import { useState } from "react";
import { Link } from "react-router-dom";
import { ErrorBox, ProgressBar, StatusBadge } from "../components/bits";
import { NewExperimentForm } from "../components/NewExperimentForm";
import { fmtNumber, fmtTime } from "../format";
import { useExperiments } from "../hooks";

export function ExperimentsPage() {
  const [status, setStatus] = useState("");
  const [name, setName] = useState("");
  const list = useExperiments({ status: status || undefined, name: name || undefined });
  return (
    <div className="experiments-page">
      <section>
        <h2>Experiments</h2>
        <div className="filters">
          <label>
            Status{" "}
            <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="status filter">
              <option value="">any</option>
              {["queued", "running", "done", "failed", "cancelled", "interrupted"].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            Name <input value={name} onChange={(e) => setName(e.target.value)} aria-label="name filter" />
          </label>
        </div>
        <ErrorBox error={list.error} />
        {list.isPending ? (
          <p className="muted">Loading…</p>
        ) : (
          <table className="experiments" aria-label="experiments">
            <thead>
              <tr>
                <th>#</th>
                <th>name</th>
                <th>status</th>
                <th>progress</th>
                <th>created</th>
                <th>finished</th>
                <th>best per task</th>
              </tr>
            </thead>
            <tbody>
              {list.data?.items.map((e) => (
                <tr key={e.id} data-testid="experiment-row">
                  <td>{e.id}</td>
                  <td>
                    <Link to={`/experiments/${e.id}`}>{e.name}</Link>
                  </td>
                  <td>
                    <StatusBadge status={e.status} />
                  </td>
                  <td className="progress-cell">
                    <ProgressBar value={e.progress.fraction} label={`${e.progress.stages_done}/${e.progress.stages_total} stages`} />
                  </td>
                  <td>
                    {fmtTime(e.created_at)}
                    {e.launched_by && <div className="muted">by {e.launched_by}</div>}
                  </td>
                  <td>{fmtTime(e.finished_at)}</td>
                  <td>
                    {Object.entries(e.best ?? {}).map(([task, b]) => (
                      <div key={task} className="best-line">
                        <b>{task}</b>: {b.model} {b.metric} {fmtNumber(b.value)}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
              {list.data?.items.length === 0 && (
                <tr>
                  <td colSpan={7} className="muted">
                    No experiments yet: start one with the form.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        )}
        {list.data && list.data.total > list.data.items.length && (
          <p className="muted">
            Showing {list.data.items.length} of {list.data.total}; narrow with the filters.
          </p>
        )}
      </section>
      <NewExperimentForm />
    </div>
  );
}
