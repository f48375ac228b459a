import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { ErrorBox } from "../components/bits";
import { SampleDetail } from "../components/SampleDetail";
import { SamplesGrid } from "../components/SamplesGrid";
import { useExperiment, useSampleFacets, useSampleRows } from "../hooks";
import { EMPTY_FILTER, filterErrors, serverQuery, viewFromUrl, viewToUrl, type ExplorerView, type SampleFilter, type SortKey } from "../samples";

function Select({ label, value, options, onChange, all = "all" }: { label: string; value: string; options: string[]; onChange: (v: string) => void; all?: string }) {
  return (
    <label>
      {label}{" "}
      <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{all}</option>
        {options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </label>
  );
}

/** Text typed into a filter box reaches the URL (and the server) once typing pauses. */
const TYPING_MS = 300;

/**
 * The samples explorer. Its state (filters, search, sort, the open sample) is the URL, so a
 * view can be shared; the rows come from the server's indexed query a page at a time as they
 * scroll into view; the open sample shows every run's answer beside the reference.
 */
export function SamplesPage() {
  const id = Number(useParams().id);
  const experiment = useExperiment(id);
  const status = experiment.data?.status;
  // samples are imported when the experiment ends: a new version of every query then
  const version = status === "done" || status === "failed" ? 1 : 0;
  const [search, setSearch] = useSearchParams();
  const view = useMemo(() => viewFromUrl(search), [search]);
  const [draft, setDraft] = useState<SampleFilter>(view.filter);
  const [selected, setSelected] = useState(-1);
  const [range, setRange] = useState<[number, number]>([0, 50]);
  const errors = filterErrors(draft);
  const valid = Object.keys(errors).length === 0;

  const navigate = useCallback(
    (next: Partial<ExplorerView>) => setSearch(viewToUrl({ ...view, ...next }), { replace: true }),
    [view, setSearch],
  );
  // the URL's filters changed from outside (back, a pasted link): the form follows them. Keyed
  // on their text, not the object: a URL change that leaves them as they were (a sample opened,
  // a sort) must not wipe what is being typed and not yet sent
  const urlFilter = JSON.stringify(view.filter);
  useEffect(() => setDraft(JSON.parse(urlFilter) as SampleFilter), [urlFilter]);
  // typed filters go to the URL after a pause, when they make sense
  useEffect(() => {
    if (!valid || JSON.stringify(draft) === JSON.stringify(view.filter)) return;
    const timer = setTimeout(() => {
      setSelected(-1);
      navigate({ filter: draft, sample: null });
    }, TYPING_MS);
    return () => clearTimeout(timer);
  }, [draft, valid, view.filter, navigate]);

  const facets = useSampleFacets(id, version);
  const metrics = facets.data?.metrics ?? [];
  const params = useMemo(() => serverQuery(view.filter, view.sort), [view.filter, view.sort]);
  const rows = useSampleRows(id, params, range[0], range[1], version);
  // the score column: the chosen metric, else the first the rows in view have
  const inView = rows.rowAt(range[0]);
  const metric = view.filter.metric || metrics.find((m) => inView && m in inView.scores) || metrics[0] || "";
  const count = rows.total ?? 0;
  const onRange = useCallback((first: number, last: number) => setRange([first, last]), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        setSelected(-1); // else the selected row would open it again
        navigate({ sample: null });
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [navigate]);
  // the open sample follows the selected row once its page is there
  const selectedRow = selected >= 0 ? rows.rowAt(selected) : undefined;
  useEffect(() => {
    if (selectedRow && selectedRow.id !== view.sample) navigate({ sample: selectedRow.id });
  }, [selectedRow, view.sample, navigate]);

  const set = (patch: Partial<SampleFilter>, now = true) => {
    const next = { ...draft, ...patch };
    setDraft(next);
    if (now && Object.keys(filterErrors(next)).length === 0) {
      setSelected(-1);
      navigate({ filter: next, sample: null });
    }
  };
  const onSort = (key: SortKey) => {
    setSelected(-1);
    navigate({ sort: { key, desc: view.sort.key === key ? !view.sort.desc : key.startsWith("score:") } });
  };

  return (
    <div className="samples-page">
      <div className="title-row">
        <h2>
          <Link to={`/experiments/${id}`}>#{id} {experiment.data?.name ?? ""}</Link> · samples
        </h2>
        <div className="counts" data-testid="counts" data-total={rows.total ?? ""} data-loading={rows.loading}>
          {rows.total === null ? "loading…" : rows.total === 1 ? "1 sample" : `${rows.total} samples`}
          {viewToUrl({ ...view, sample: null }).toString() ? ` match${rows.total === 1 ? "es" : ""} the filter (the link keeps it)` : ""}
        </div>
      </div>
      <ErrorBox error={rows.error ?? facets.error} />
      <div className="filters sample-filters" aria-label="sample filters">
        <label>
          Search <input aria-label="search" value={draft.q} onChange={(e) => set({ q: e.target.value }, false)} placeholder="question, answer, reference, id" />
        </label>
        <Select label="run" value={draft.run} options={facets.data?.runs ?? []} onChange={(run) => set({ run })} />
        <Select label="doc class" value={draft.docClass} options={facets.data?.doc_classes ?? []} onChange={(docClass) => set({ docClass })} />
        <Select label="question type" value={draft.questionType} options={facets.data?.question_types ?? []} onChange={(questionType) => set({ questionType })} />
        <Select label="score metric" value={draft.metric} options={metrics} onChange={(m) => set({ metric: m })} all="auto" />
        <label>
          score ≥ <input aria-label="score min" className="short" value={draft.scoreMin} onChange={(e) => set({ scoreMin: e.target.value }, false)} />
        </label>
        <label>
          ≤ <input aria-label="score max" className="short" value={draft.scoreMax} onChange={(e) => set({ scoreMax: e.target.value }, false)} />
        </label>
        <label>
          latency s ≥ <input aria-label="latency min" className="short" value={draft.latencyMin} onChange={(e) => set({ latencyMin: e.target.value }, false)} />
        </label>
        <label>
          ≤ <input aria-label="latency max" className="short" value={draft.latencyMax} onChange={(e) => set({ latencyMax: e.target.value }, false)} />
        </label>
        <button type="button" onClick={() => set(EMPTY_FILTER)}>
          Clear
        </button>
      </div>
      {!valid && (
        <ul className="field-error" role="alert">
          {Object.entries(errors).map(([field, text]) => (
            <li key={field}>
              {field}: {text}
            </li>
          ))}
        </ul>
      )}
      <div className={`samples-split${view.sample !== null ? " with-detail" : ""}`}>
        <SamplesGrid
          count={count}
          rowAt={rows.rowAt}
          metric={metric}
          sort={view.sort}
          onSort={onSort}
          selected={selected}
          onSelect={setSelected}
          onRange={onRange}
          openId={view.sample}
        />
        {view.sample !== null && (
          <SampleDetail
            experiment={id}
            row={view.sample}
            onClose={() => {
              setSelected(-1);
              navigate({ sample: null });
            }}
          />
        )}
      </div>
      <p className="muted hint">↑/↓ or j/k move, PageUp/PageDown jump, Escape closes the sample. The address bar holds this view: copy it to share.</p>
    </div>
  );
}
