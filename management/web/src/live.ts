/**
 * Folds the experiment's WebSocket events into what the live view shows. A pure reducer, so the
 * same code replays history (the server sends past events first) and follows the run, and unit
 * tests can feed it recorded events.
 */
import type { Stage } from "./api";

export interface LiveEvent {
  type: string;
  seq?: number;
  ts?: number;
  stage_id?: string;
  stage_kind?: string;
  name?: string;
  depends_on?: string[];
  done?: number;
  total?: number;
  failed?: number;
  error?: string;
  reason?: string;
  metrics?: Record<string, number>;
  status?: string;
  line?: string;
}

export interface LiveState {
  stages: Record<string, Stage>;
  order: string[];
  /** Samples answered per second over the last RATE_WINDOW_S seconds of event time. */
  samplesPerSecond: number | null;
  /** The latest resource sample of the model server (e.g. rss, vram), by metric name. */
  resources: Record<string, number>;
  finished: string | null;
  error: string | null;
  lastSeq: number;
  log: string[];
  /** (ts, samples done over every infer stage), newest last, for the rate. */
  history: [number, number][];
}

export const RATE_WINDOW_S = 10;
const LOG_LINES = 50;

export function initialLive(stages: Stage[] = []): LiveState {
  const map: Record<string, Stage> = {};
  for (const stage of stages) map[stage.id] = { ...stage };
  return {
    stages: map,
    order: stages.map((s) => s.id),
    samplesPerSecond: null,
    resources: {},
    finished: null,
    error: null,
    lastSeq: 0,
    log: [],
    history: [],
  };
}

function samplesDone(stages: Record<string, Stage>): number {
  let done = 0;
  for (const stage of Object.values(stages)) {
    if (stage.kind === "infer") done += stage.done ?? 0;
  }
  return done;
}

export function applyLive(state: LiveState, event: LiveEvent): LiveState {
  if (event.seq !== undefined && event.seq <= state.lastSeq) return state; // replay overlap
  const next: LiveState = { ...state, lastSeq: event.seq ?? state.lastSeq };
  if (event.type === "experiment_finished") {
    next.finished = event.status ?? "done";
    next.error = event.error ?? null;
    next.samplesPerSecond = null;
    return next;
  }
  if (event.type === "log") {
    if (event.line) next.log = [...state.log, event.line].slice(-LOG_LINES);
    return next;
  }
  if (event.type === "resource_sample") {
    next.resources = { ...state.resources, ...(event.metrics ?? {}) };
    return next;
  }
  const id = event.stage_id;
  if (!id || id === "-") return next;
  const previous = state.stages[id] ?? { id, name: event.name, kind: event.stage_kind };
  const stage: Stage = { ...previous };
  stage.name = stage.name ?? event.name;
  stage.kind = stage.kind ?? event.stage_kind;
  switch (event.type) {
    case "stage_planned":
      stage.state = stage.state ?? "planned";
      stage.deps = event.depends_on ?? stage.deps ?? [];
      break;
    case "stage_started":
      stage.state = "running";
      stage.started_at = event.ts;
      break;
    case "stage_skipped":
      stage.state = "skipped";
      stage.reason = event.reason;
      break;
    case "stage_progress":
      stage.done = event.done;
      stage.total = event.total;
      stage.failed = event.failed;
      break;
    case "stage_finished":
      stage.state = "done";
      stage.finished_at = event.ts;
      if (stage.total !== undefined) stage.done = stage.total;
      break;
    case "stage_failed":
      stage.state = "failed";
      stage.error = event.error;
      break;
    default:
      return next;
  }
  next.stages = { ...state.stages, [id]: stage };
  if (!state.stages[id]) next.order = [...state.order, id];
  if (event.type === "stage_progress" && event.ts !== undefined) {
    const now = event.ts;
    const history = [...state.history, [now, samplesDone(next.stages)] as [number, number]].filter(
      ([ts]) => now - ts <= RATE_WINDOW_S,
    );
    next.history = history;
    const [firstTs, firstDone] = history[0];
    const [lastTs, lastDone] = history[history.length - 1];
    next.samplesPerSecond = lastTs > firstTs ? (lastDone - firstDone) / (lastTs - firstTs) : state.samplesPerSecond;
  }
  return next;
}

/** Pipeline order of stage kinds, for laying out the stage graph in columns. */
export const KIND_ORDER = ["sync", "serve", "infer", "eval", "report"];

export function columns(state: LiveState): { kind: string; stages: Stage[] }[] {
  const byKind = new Map<string, Stage[]>();
  for (const id of state.order) {
    const stage = state.stages[id];
    const kind = stage.kind ?? "other";
    byKind.set(kind, [...(byKind.get(kind) ?? []), stage]);
  }
  const kinds = [...byKind.keys()].sort((a, b) => {
    const ia = KIND_ORDER.indexOf(a);
    const ib = KIND_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  return kinds.map((kind) => ({ kind, stages: byKind.get(kind) ?? [] }));
}
