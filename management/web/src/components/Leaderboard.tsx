import { useMemo, useState } from "react";
import { higherIsBetter, type FieldScore, type LeaderboardRow } from "../api";
import { fmtNumber } from "../format";

const CI_LOW = /_ci_low$/;
const CI_HIGH = /_ci_high$/;

/** Metric columns in first-seen order; `<m>_ci_low/_ci_high` fold into `<m>`'s cell. */
export function metricColumns(rows: LeaderboardRow[]): string[] {
  const names: string[] = [];
  for (const row of rows) {
    for (const name of Object.keys(row.metrics ?? {})) {
      if (CI_LOW.test(name) || CI_HIGH.test(name)) continue;
      if (!names.includes(name)) names.push(name);
    }
  }
  return names;
}

/** The CI of `metric` in a row: `<m>_ci_low/_ci_high` metrics, or the server's `ci` map. */
export function ciOf(row: LeaderboardRow, metric: string): [number, number] | null {
  const low = row.metrics?.[`${metric}_ci_low`] ?? (row as { [k: string]: unknown })[`${metric}_ci_low`];
  const high = row.metrics?.[`${metric}_ci_high`] ?? (row as { [k: string]: unknown })[`${metric}_ci_high`];
  if (typeof low === "number" && typeof high === "number") return [low, high];
  const ci = (row.ci as Record<string, [number | null, number | null]> | undefined)?.[metric];
  if (ci && typeof ci[0] === "number" && typeof ci[1] === "number") return [ci[0], ci[1]];
  return null;
}

type SortState = { column: string; desc: boolean } | null;

function value(row: LeaderboardRow, column: string): string | number | null {
  if (column in (row.metrics ?? {})) {
    const v = row.metrics[column];
    return typeof v === "number" ? v : null;
  }
  const v = row[column];
  return typeof v === "number" || typeof v === "string" ? v : null;
}

/** One table per task: runs × metrics, sortable by any column; the best cell per metric marked. */
export function Leaderboard({ rows }: { rows: LeaderboardRow[] }) {
  const tasks = useMemo(() => [...new Set(rows.map((r) => r.task))], [rows]);
  if (!rows.length) return <p className="muted">No results yet.</p>;
  return (
    <div className="leaderboards">
      {tasks.map((task) => (
        <TaskBoard key={task} task={task} rows={rows.filter((r) => r.task === task)} />
      ))}
    </div>
  );
}

function TaskBoard({ task, rows }: { task: string; rows: LeaderboardRow[] }) {
  const metrics = useMemo(() => metricColumns(rows), [rows]);
  const hasLatency = rows.some((r) => typeof r.latency_p50_s === "number");
  const main = rows.map((r) => r.main_metric).find((m): m is string => !!m && metrics.includes(m)) ?? metrics[0];
  const [sort, setSort] = useState<SortState>(main ? { column: main, desc: higherIsBetter(rows, main) } : null);
  const sorted = useMemo(() => {
    if (!sort) return rows;
    return [...rows].sort((a, b) => {
      const va = value(a, sort.column);
      const vb = value(b, sort.column);
      if (va === null) return vb === null ? 0 : 1;
      if (vb === null) return -1;
      const c = typeof va === "number" && typeof vb === "number" ? va - vb : String(va).localeCompare(String(vb));
      return sort.desc ? -c : c;
    });
  }, [rows, sort]);
  const best = useMemo(() => {
    const out: Record<string, number> = {};
    for (const m of metrics) {
      const values = rows.map((r) => r.metrics[m]).filter((v): v is number => typeof v === "number");
      if (values.length) out[m] = higherIsBetter(rows, m) ? Math.max(...values) : Math.min(...values);
    }
    return out;
  }, [rows, metrics]);
  const header = (column: string, label = column) => (
    <th
      key={column}
      aria-sort={sort?.column === column ? (sort.desc ? "descending" : "ascending") : "none"}
      onClick={() => setSort((s) => ({ column, desc: s?.column === column ? !s.desc : true }))}
      className="sortable"
    >
      {label}
      {sort?.column === column ? (sort.desc ? " ▼" : " ▲") : ""}
    </th>
  );
  return (
    <section className="board" aria-label={`leaderboard ${task}`}>
      <h3>Task {task}</h3>
      <div className="table-scroll">
        <table className="leaderboard">
          <thead>
            <tr>
              {header("model")}
              {header("prompt")}
              {header("dataset")}
              {metrics.map((m) => header(m, `${m} ${higherIsBetter(rows, m) ? "↑" : "↓"}${m === main ? " (main)" : ""}`))}
              {hasLatency && header("latency_p50_s", "p50 latency (s)")}
              {header("samples")}
            </tr>
          </thead>
          <tbody>
            {sorted.map((row) => (
              <tr key={row.run}>
                <td>{row.model}</td>
                <td>{row.prompt}</td>
                <td>{row.dataset}</td>
                {metrics.map((m) => {
                  const v = row.metrics[m];
                  const ci = ciOf(row, m);
                  return (
                    <td key={m} className={`num${typeof v === "number" && v === best[m] ? " best" : ""}`}>
                      {fmtNumber(v)}
                      {ci && <span className="ci"> [{fmtNumber(ci[0])}, {fmtNumber(ci[1])}]</span>}
                    </td>
                  );
                })}
                {hasLatency && <td className="num">{fmtNumber(row.latency_p50_s)}</td>}
                <td className="num">{fmtNumber(row.samples)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sorted
        .filter((row) => Object.keys(row.per_field ?? {}).length)
        .map((row) => (
          <FieldTable key={row.run} row={row} />
        ))}
    </section>
  );
}

/** A KIE run's per-field results: which fields the model reads, and how often it leaves one out. */
export function FieldTable({ row }: { row: LeaderboardRow }) {
  const fields = Object.keys(row.per_field ?? {}).sort();
  const metrics: string[] = [];
  for (const f of fields) {
    for (const m of Object.keys(row.per_field?.[f] ?? {})) if (!metrics.includes(m)) metrics.push(m);
  }
  return (
    <details className="per-field" open>
      <summary>
        Per field — {row.model} / {row.prompt}
      </summary>
      <div className="table-scroll">
        <table className="leaderboard" aria-label={`per field ${row.run}`}>
          <thead>
            <tr>
              <th>field</th>
              {metrics.map((m) => (
                <th key={m}>
                  {m} {higherIsBetter([row], m) ? "↑" : "↓"}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {fields.map((f) => (
              <tr key={f}>
                <td>{f}</td>
                {metrics.map((m) => {
                  const cell: FieldScore | undefined = row.per_field?.[f]?.[m];
                  return (
                    <td key={m} className="num">
                      {fmtNumber(cell?.value ?? null)}
                      {cell?.ci && (
                        <span className="ci">
                          {" "}
                          [{fmtNumber(cell.ci[0])}, {fmtNumber(cell.ci[1])}]
                        </span>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
