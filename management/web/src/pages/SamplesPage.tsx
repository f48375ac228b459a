import { useDeferredValue, useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { ErrorBox } from "../components/bits";
import { SampleDetail } from "../components/SampleDetail";
import { SamplesGrid } from "../components/SamplesGrid";
import { useAllSamples, useExperiment } from "../hooks";
import {
  answersFor,
  EMPTY_FILTER,
  facets,
  filterErrors,
  filterSamples,
  sortSamples,
  type SampleFilter,
  type SortKey,
  type SortSpec,
} from "../samples";

function Select({ label, value, options, onChange }: { label: string; value: string; options: string[]; onChange: (v: string) => void }) {
  return (
    <label>
      {label}{" "}
      <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">all</option>
        {options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </label>
  );
}

export function SamplesPage() {
  const id = Number(useParams().id);
  const experiment = useExperiment(id);
  const status = experiment.data?.status;
  // reload once the experiment ends: its samples are imported at the end
  const all = useAllSamples(id, status === "done" || status === "failed" ? 1 : 0);
  const [filter, setFilter] = useState<SampleFilter>(EMPTY_FILTER);
  const [sort, setSort] = useState<SortSpec>({ key: "id", desc: false });
  const [selected, setSelected] = useState(-1);
  const deferredFilter = useDeferredValue(filter);
  const errors = filterErrors(filter);
  const f = useMemo(() => facets(all.items), [all.items]);

  const { rows, ms } = useMemo(() => {
    const started = performance.now();
    const out = sortSamples(filterSamples(all.items, deferredFilter), sort);
    return { rows: out, ms: performance.now() - started };
  }, [all.items, deferredFilter, sort]);

  useEffect(() => setSelected((s) => (s >= rows.length ? rows.length - 1 : s)), [rows.length]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setSelected(-1);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const current = selected >= 0 ? rows[selected] : undefined;
  const answers = useMemo(() => (current ? answersFor(all.items, current.sample_id) : []), [current, all.items]);
  const set = (patch: Partial<SampleFilter>) => {
    setFilter({ ...filter, ...patch });
    setSelected(-1);
  };
  const onSort = (key: SortKey) => setSort((s) => ({ key, desc: s.key === key ? !s.desc : key.startsWith("score:") }));

  return (
    <div className="samples-page">
      <div className="title-row">
        <h2>
          <Link to={`/experiments/${id}`}>#{id} {experiment.data?.name ?? ""}</Link> · samples
        </h2>
        <div
          className="counts"
          data-testid="counts"
          data-shown={rows.length}
          data-loaded={all.items.length}
          data-total={all.total ?? ""}
          data-filter-ms={ms.toFixed(1)}
          data-first-page-ms={all.timings.firstPageMs?.toFixed(0) ?? ""}
          data-all-ms={all.timings.allMs?.toFixed(0) ?? ""}
        >
          {rows.length} shown of {all.items.length}
          {all.total !== null && all.items.length < all.total ? ` (loading ${all.total})` : ""}
        </div>
      </div>
      <ErrorBox error={all.error} />
      <div className="filters sample-filters" aria-label="sample filters">
        <label>
          Search <input aria-label="search" value={filter.q} onChange={(e) => set({ q: e.target.value })} placeholder="question, answer, reference, id" />
        </label>
        <Select label="run" value={filter.run} options={f.runs} onChange={(run) => set({ run })} />
        <Select label="doc class" value={filter.docClass} options={f.docClasses} onChange={(docClass) => set({ docClass })} />
        <Select label="question type" value={filter.questionType} options={f.questionTypes} onChange={(questionType) => set({ questionType })} />
        <Select label="score metric" value={filter.metric} options={f.metrics} onChange={(metric) => set({ metric })} />
        <label>
          score ≥ <input aria-label="score min" className="short" value={filter.scoreMin} onChange={(e) => set({ scoreMin: e.target.value })} />
        </label>
        <label>
          ≤ <input aria-label="score max" className="short" value={filter.scoreMax} onChange={(e) => set({ scoreMax: e.target.value })} />
        </label>
        <label>
          latency s ≥ <input aria-label="latency min" className="short" value={filter.latencyMin} onChange={(e) => set({ latencyMin: e.target.value })} />
        </label>
        <label>
          ≤ <input aria-label="latency max" className="short" value={filter.latencyMax} onChange={(e) => set({ latencyMax: e.target.value })} />
        </label>
        <button type="button" onClick={() => set(EMPTY_FILTER)}>
          Clear
        </button>
      </div>
      {Object.keys(errors).length > 0 && (
        <ul className="field-error" role="alert">
          {Object.entries(errors).map(([field, text]) => (
            <li key={field}>
              {field}: {text}
            </li>
          ))}
        </ul>
      )}
      <div className={`samples-split${current ? " with-detail" : ""}`}>
        <SamplesGrid rows={rows} metrics={f.metrics} sort={sort} onSort={onSort} selected={selected} onSelect={setSelected} />
        {current && <SampleDetail sample={current} answers={answers} onClose={() => setSelected(-1)} />}
      </div>
      <p className="muted hint">↑/↓ or j/k move, PageUp/PageDown jump, Escape closes the sample.</p>
    </div>
  );
}
