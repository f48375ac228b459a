/** Typed access to the vlmhb-server API (the contract of issue #11). */
import { clearToken, getToken } from "./token";

export type Status = "queued" | "running" | "done" | "failed" | "cancelled" | "interrupted";

export interface Progress {
  stages_total: number;
  stages_done: number;
  samples_total: number;
  samples_done: number;
  fraction: number;
}

export interface Stage {
  id: string;
  name?: string;
  kind?: string;
  deps?: string[];
  state?: string;
  done?: number;
  total?: number;
  failed?: number;
  error?: string;
  reason?: string;
  started_at?: number;
  finished_at?: number;
  resources?: Record<string, number>;
}

export interface Best {
  metric: string;
  value: number;
  model: string;
  prompt: string;
}

export interface Experiment {
  id: number;
  name: string;
  status: Status;
  source?: string;
  progress: Progress;
  created_at: string | null;
  started_at?: string | null;
  finished_at: string | null;
  error?: string | null;
  stages?: Stage[];
  best?: Record<string, Best>;
  spec?: Record<string, unknown>;
  /** owner of the token that submitted / cancelled it (null: imported) */
  launched_by?: string | null;
  cancelled_by?: string | null;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export interface LeaderboardRow {
  experiment_id?: number;
  run: string;
  model: string;
  dataset: string;
  prompt: string;
  task: string;
  metrics: Record<string, number | string | null>;
  /** The task's main metric: it decides "best" and the default order. */
  main_metric?: string | null;
  /** KIE runs: field -> metric -> value, 95% CI and samples behind it. */
  per_field?: Record<string, Record<string, FieldScore>>;
  /** Each metric's direction as its registry entry declared it (per-field metrics too). */
  higher_is_better?: Record<string, boolean>;
  [extra: string]: unknown;
}

export interface FieldScore {
  value: number | null;
  ci?: [number, number];
  n?: number;
}

export interface Sample {
  id: number;
  run: string;
  sample_id: string;
  question: string | null;
  reference: string | null;
  answer: string | null;
  scores: Record<string, number | null>;
  latency_s: number | null;
  doc_class: string | null;
  question_type: string | null;
  image_url: string | null;
  metadata: Record<string, unknown>;
}

/** The explorer's filter choices (GET .../samples/facets). */
export interface SampleFacets {
  runs: string[];
  doc_classes: string[];
  question_types: string[];
  metrics: string[];
}

/** One field of a KIE answer: reference, answer and the field metrics' scores for it. */
export interface FieldRow {
  field: string;
  reference: string | null;
  answer: string | null;
  scores: Record<string, number | null>;
}

/** One sample in every run of an experiment (GET .../samples/{row}/answers). */
export interface SampleAnswers {
  sample_id: string;
  items: (Sample & { fields: FieldRow[] | null })[];
}

export interface FigureInfo {
  name: string;
  title: string;
}

export interface PlotlyFigure {
  data: unknown[];
  layout: Record<string, unknown>;
}

export interface CompareMetric {
  metric: string;
  a: number | null;
  b: number | null;
  delta: number | null;
  higher_is_better: boolean;
  n_paired: number;
  ci_low?: number;
  ci_high?: number;
  p_value?: number;
  verdict?: string;
  test?: string;
}

export interface CompareSide {
  experiment_id: number;
  run: string;
  model: string;
  dataset: string;
  prompt: string;
  task: string;
}

export interface CompareRun {
  a: CompareSide;
  b: CompareSide;
  samples_shared: number;
  samples_changed: number;
  metrics: CompareMetric[];
  changed: {
    sample_id: string;
    a: { answer: string | null; scores: Record<string, number | null> };
    b: { answer: string | null; scores: Record<string, number | null> };
  }[];
  significance: boolean;
}

export interface Comparison {
  a: string;
  b: string;
  runs: CompareRun[];
}

export interface RegistryEntry {
  name: string;
  description?: string;
  task?: string;
  [field: string]: unknown;
}

/** An API answer other than 2xx, with the server's explanation kept whole. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: unknown,
  ) {
    super(describeDetail(status, detail));
    this.name = "ApiError";
  }

  /** The server's list of problems (`file:line: field: what`), when it gave one. */
  get problems(): string[] {
    const d = this.detail as { problems?: unknown } | null;
    if (d && typeof d === "object" && Array.isArray(d.problems)) return d.problems.map(String);
    return typeof this.detail === "string" ? [this.detail] : [];
  }
}

function describeDetail(status: number, detail: unknown): string {
  if (typeof detail === "string") return `${status}: ${detail}`;
  if (detail && typeof detail === "object") {
    const d = detail as { message?: string; problems?: string[] };
    if (d.message) return `${status}: ${d.message}${d.problems ? ` (${d.problems.length} problem(s))` : ""}`;
    if (Array.isArray(detail)) {
      // FastAPI request validation: [{loc, msg}]
      return `${status}: ${(detail as { loc?: unknown[]; msg?: string }[])
        .map((e) => `${(e.loc ?? []).join(".")}: ${e.msg}`)
        .join("; ")}`;
    }
  }
  return `${status}: request failed`;
}

/** Listeners told when the server rejects the token (the app then shows the token page). */
const unauthorized = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
}

/** Where the API lives: "" (the page's own server) unless set, e.g. by tests against a server. */
let base = "";
export function setApiBase(url: string): void {
  base = url.replace(/\/$/, "");
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const token = getToken();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (init.body && typeof init.body === "string" && !headers.has("content-type")) {
    headers.set("content-type", "application/json");
  }
  const response = await fetch(base + path, { ...init, headers });
  if (!response.ok) {
    let detail: unknown = response.statusText;
    try {
      const body = await response.json();
      detail = body?.detail ?? body;
    } catch {
      /* not JSON: keep the status text */
    }
    if (response.status === 401) {
      clearToken();
      unauthorized.forEach((listener) => listener());
    }
    throw new ApiError(response.status, detail);
  }
  return (await response.json()) as T;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * A metric's direction as the leaderboard rows carry it (`higher_is_better`, declared by the
 * metric's registry entry); a metric no row declares counts as higher-is-better, as in
 * `vlmhb compare`. Never guessed from the name.
 */
export function higherIsBetter(rows: readonly LeaderboardRow[], metric: string): boolean {
  for (const row of rows) {
    const declared = row.higher_is_better?.[metric];
    if (typeof declared === "boolean") return declared;
  }
  return true;
}
