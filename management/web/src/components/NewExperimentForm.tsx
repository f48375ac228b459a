import { useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { ApiError, type RegistryEntry } from "../api";
import { useRegistry, useSubmitExperiment, type Submission } from "../hooks";

type Field = "experiment" | "models" | "datasets" | "prompts" | "metrics" | "limit" | "user_config" | "form";

/**
 * Sorts the server's problems (`file:line: field: what`, or `field: what`) to the form field
 * they are about, so each shows next to its input; the rest go to the form's own error list.
 */
export function problemsByField(problems: string[]): Partial<Record<Field, string[]>> {
  const out: Partial<Record<Field, string[]>> = {};
  const add = (field: Field, text: string) => (out[field] = [...(out[field] ?? []), text]);
  for (const problem of problems) {
    const text = problem.replace(/^[^\s:]+\.(ya?ml|csv):\d+:\s*/, "");
    const match = /^(?:matrix\.)?([a-z_]+)/.exec(text);
    const key = match?.[1];
    if (key === "models" || key === "model") add("models", text);
    else if (key === "datasets" || key === "dataset") add("datasets", text);
    else if (key === "prompts" || key === "prompt") add("prompts", text);
    else if (key === "metrics" || key === "metric") add("metrics", text);
    else if (key === "limit") add("limit", text);
    else if (key === "experiment") add("experiment", text);
    else if (key === "user_config" || /\.csv:/.test(problem)) add("user_config", problem);
    else add("form", problem);
  }
  return out;
}

function Problems({ list }: { list?: string[] }) {
  if (!list?.length) return null;
  return (
    <ul className="field-error" role="alert">
      {list.map((p) => (
        <li key={p}>{p}</li>
      ))}
    </ul>
  );
}

function Checks({
  name,
  entries,
  selected,
  onChange,
}: {
  name: string;
  entries: RegistryEntry[];
  selected: string[];
  onChange: (next: string[]) => void;
}) {
  return (
    <div className="checks" role="group" aria-label={name}>
      {entries.map((e) => (
        <label key={e.name} title={e.description}>
          <input
            type="checkbox"
            name={name}
            value={e.name}
            checked={selected.includes(e.name)}
            onChange={(ev) => onChange(ev.target.checked ? [...selected, e.name] : selected.filter((s) => s !== e.name))}
          />
          {e.name}
        </label>
      ))}
    </div>
  );
}

/**
 * A new experiment: a registry experiment as is, or its matrix re-chosen (models × datasets ×
 * prompts × metrics) and sent as overrides, or a v0.1 user_config.csv upload.
 */
export function NewExperimentForm() {
  const navigate = useNavigate();
  const experiments = useRegistry("experiments");
  const models = useRegistry("models");
  const datasets = useRegistry("datasets");
  const prompts = useRegistry("prompts");
  const metrics = useRegistry("metrics");
  const submit = useSubmitExperiment();
  const [mode, setMode] = useState<"registry" | "csv">("registry");
  const [base, setBase] = useState("default");
  const [custom, setCustom] = useState(false);
  const [chosen, setChosen] = useState<Record<"models" | "datasets" | "prompts" | "metrics", string[]>>({
    models: [],
    datasets: [],
    prompts: [],
    metrics: [],
  });
  const [limit, setLimit] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [local, setLocal] = useState<Partial<Record<Field, string[]>>>({});

  const serverProblems = useMemo(() => {
    const error = submit.error;
    if (!error) return {};
    if (error instanceof ApiError) return problemsByField(error.problems.length ? error.problems : [error.message]);
    return { form: [String(error)] };
  }, [submit.error]);
  const problems = { ...serverProblems, ...local };

  const registryError = [experiments, models, datasets, prompts, metrics].find((q) => q.error)?.error;

  const onSubmit = (e: React.FormEvent) => {
    e.preventDefault();
    const errors: Partial<Record<Field, string[]>> = {};
    let parsedLimit: number | undefined;
    if (limit.trim()) {
      parsedLimit = Number(limit);
      if (!Number.isInteger(parsedLimit) || parsedLimit <= 0) errors.limit = [`limit: expected a positive integer, got ${JSON.stringify(limit)}`];
    }
    let body: Submission | null = null;
    if (mode === "csv") {
      if (!file) errors.user_config = ["user_config: choose a v0.1 user_config.csv file"];
      else body = { file, limit: parsedLimit };
    } else {
      if (!base) errors.experiment = ["experiment: choose an experiment"];
      const overrides: Record<string, unknown> = {};
      if (custom) {
        if (!chosen.models.length) errors.models = ["models: choose at least one model"];
        if (!chosen.datasets.length) errors.datasets = ["datasets: choose at least one dataset"];
        if (!chosen.prompts.length) errors.prompts = ["prompts: choose at least one prompt"];
        const matrix: Record<string, unknown> = {
          models: chosen.models,
          datasets: chosen.datasets,
          prompts: Object.fromEntries(chosen.datasets.map((d) => [d, chosen.prompts])),
        };
        if (chosen.metrics.length) matrix.metrics = chosen.metrics;
        overrides.matrix = matrix;
      }
      body = { experiment: base, limit: parsedLimit, ...(custom ? { overrides } : {}) };
    }
    setLocal(errors);
    if (Object.keys(errors).length || !body) return;
    submit.mutate(body, { onSuccess: (created) => navigate(`/experiments/${created.id}`) });
  };

  return (
    <form className="new-experiment" onSubmit={onSubmit} aria-label="new experiment" noValidate>
      <h2>New experiment</h2>
      {registryError ? <div className="error">registries: {(registryError as Error).message}</div> : null}
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === "registry"} onClick={() => setMode("registry")}>
          From the registries
        </button>
        <button type="button" role="tab" aria-selected={mode === "csv"} onClick={() => setMode("csv")}>
          user_config.csv (v0.1)
        </button>
      </div>
      {mode === "registry" ? (
        <>
          <label className="field">
            Experiment
            <select name="experiment" value={base} onChange={(e) => setBase(e.target.value)}>
              {(experiments.data?.entries ?? [{ name: "default" }]).map((e) => (
                <option key={e.name}>{e.name}</option>
              ))}
            </select>
          </label>
          <Problems list={problems.experiment} />
          <label className="inline">
            <input type="checkbox" checked={custom} onChange={(e) => setCustom(e.target.checked)} /> choose the matrix
          </label>
          {custom && (
            <div className="matrix">
              <fieldset>
                <legend>Models</legend>
                <Checks name="models" entries={models.data?.entries ?? []} selected={chosen.models} onChange={(v) => setChosen({ ...chosen, models: v })} />
                <Problems list={problems.models} />
              </fieldset>
              <fieldset>
                <legend>Datasets</legend>
                <Checks name="datasets" entries={datasets.data?.entries ?? []} selected={chosen.datasets} onChange={(v) => setChosen({ ...chosen, datasets: v })} />
                <Problems list={problems.datasets} />
              </fieldset>
              <fieldset>
                <legend>Prompts</legend>
                <Checks name="prompts" entries={prompts.data?.entries ?? []} selected={chosen.prompts} onChange={(v) => setChosen({ ...chosen, prompts: v })} />
                <Problems list={problems.prompts} />
              </fieldset>
              <fieldset>
                <legend>Metrics (empty: each task's defaults)</legend>
                <Checks name="metrics" entries={metrics.data?.entries ?? []} selected={chosen.metrics} onChange={(v) => setChosen({ ...chosen, metrics: v })} />
                <Problems list={problems.metrics} />
              </fieldset>
            </div>
          )}
        </>
      ) : (
        <>
          <label className="field">
            user_config.csv
            <input type="file" name="user_config" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </label>
          <Problems list={problems.user_config} />
        </>
      )}
      <label className="field">
        Limit (samples per run, empty: all)
        <input name="limit" inputMode="numeric" value={limit} onChange={(e) => setLimit(e.target.value)} />
      </label>
      <Problems list={problems.limit} />
      <Problems list={problems.form} />
      <button type="submit" disabled={submit.isPending}>
        {submit.isPending ? "Starting…" : "Start"}
      </button>
    </form>
  );
}
