/** Data hooks: TanStack Query for request/response data, a WebSocket for live events. */
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useReducer, useRef, useState } from "react";
import {
  api,
  query,
  type Comparison,
  type Experiment,
  type FigureInfo,
  type LeaderboardRow,
  type Page,
  type PlotlyFigure,
  type RegistryEntry,
  type Sample,
  type SampleAnswers,
  type SampleFacets,
  type Stage,
} from "./api";
import { applyLive, initialLive, type LiveEvent, type LiveState } from "./live";
import { withToken } from "./token";

const ACTIVE = new Set(["queued", "running"]);

export function useExperiments(filters: { status?: string; name?: string } = {}) {
  return useQuery({
    queryKey: ["experiments", filters],
    queryFn: () => api<Page<Experiment>>(`/api/experiments${query({ ...filters, limit: 200 })}`),
    // the list is an overview: refresh it while something is moving (the live view uses the WS)
    refetchInterval: (q) => (q.state.data?.items.some((e) => ACTIVE.has(e.status)) ? 2000 : false),
  });
}

export function useExperiment(id: number) {
  return useQuery({
    queryKey: ["experiment", id],
    queryFn: () => api<Experiment>(`/api/experiments/${id}`),
  });
}

export function useLeaderboard(id: number, enabled = true) {
  return useQuery({
    queryKey: ["leaderboard", id],
    queryFn: () => api<{ rows: LeaderboardRow[] }>(`/api/experiments/${id}/leaderboard`),
    enabled,
  });
}

export function useFigures(id: number, enabled = true) {
  return useQuery({
    queryKey: ["figures", id],
    queryFn: () => api<FigureInfo[]>(`/api/experiments/${id}/figures`),
    enabled,
  });
}

export function useFigure(id: number, name: string) {
  return useQuery({
    queryKey: ["figure", id, name],
    queryFn: () => api<PlotlyFigure>(`/api/experiments/${id}/figures/${encodeURIComponent(name)}`),
  });
}

export function useRegistry(kind: string) {
  return useQuery({
    queryKey: ["registry", kind],
    queryFn: () => api<{ kind: string; entries: RegistryEntry[] }>(`/api/registries/${kind}`),
    staleTime: 60_000,
  });
}

export function useCompare(a: string, b: string) {
  return useQuery({
    queryKey: ["compare", a, b],
    queryFn: () => api<Comparison>(`/api/compare${query({ a, b })}`),
    enabled: Boolean(a && b),
  });
}

export type Submission =
  | { experiment: string; limit?: number; overrides?: Record<string, unknown> }
  | { yaml: string; limit?: number }
  | { file: File; limit?: number };

export function useSubmitExperiment() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Submission) => {
      if ("file" in body) {
        const form = new FormData();
        form.set("user_config", body.file);
        if (body.limit) form.set("limit", String(body.limit));
        return api<{ id: number }>("/api/experiments", { method: "POST", body: form });
      }
      return api<{ id: number }>("/api/experiments", { method: "POST", body: JSON.stringify(body) });
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ["experiments"] }),
  });
}

export function useCancelExperiment(id: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api<{ status: string }>(`/api/experiments/${id}/cancel`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["experiment", id] }),
  });
}

/** Rows per samples request: a screenful and some, so scrolling needs few requests. */
export const SAMPLES_PAGE = 200;

export interface SampleRows {
  /** matching samples on the server, null until the first page answers */
  total: number | null;
  /** the row at a position of the filtered, sorted list, once its page is loaded */
  rowAt: (index: number) => Sample | undefined;
  loading: boolean;
  error: Error | null;
}

/**
 * The rows of one filtered, sorted samples view, fetched page by page from the server's
 * indexed query as they come into view (`first`..`last`: the grid's visible rows). Each page is
 * a TanStack query, so a page seen once is not fetched again and requests are never doubled.
 */
export function useSampleRows(
  id: number,
  params: Record<string, string>,
  first: number,
  last: number,
  version = 0,
): SampleRows {
  const wanted = new Set([0]);
  if (last >= first) {
    for (let p = Math.floor(first / SAMPLES_PAGE); p <= Math.floor(last / SAMPLES_PAGE); p++) wanted.add(p);
  }
  const pages = [...wanted];
  const results = useQueries({
    queries: pages.map((page) => ({
      queryKey: ["samples", id, version, params, page],
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        api<Page<Sample>>(
          `/api/experiments/${id}/samples${query({ ...params, limit: SAMPLES_PAGE, offset: page * SAMPLES_PAGE })}`,
          { signal },
        ),
      staleTime: 60_000,
    })),
  });
  const byPage = new Map(pages.map((page, i) => [page, results[i]]));
  const total = results.find((r) => r.data)?.data?.total ?? null;
  return {
    total,
    rowAt: (index) => byPage.get(Math.floor(index / SAMPLES_PAGE))?.data?.items[index % SAMPLES_PAGE],
    loading: results.some((r) => r.isLoading),
    error: (results.find((r) => r.error)?.error as Error | undefined) ?? null,
  };
}

export function useSampleFacets(id: number, version = 0) {
  return useQuery({
    queryKey: ["sample-facets", id, version],
    queryFn: () => api<SampleFacets>(`/api/experiments/${id}/samples/facets`),
    staleTime: 60_000,
  });
}

/** The open sample in every run of the experiment, with per-field tables for KIE. */
export function useSampleAnswers(id: number, row: number | null) {
  return useQuery({
    queryKey: ["sample-answers", id, row],
    queryFn: () => api<SampleAnswers>(`/api/experiments/${id}/samples/${row}/answers`),
    enabled: row !== null,
    staleTime: 60_000,
  });
}

export function eventsUrl(id: number, after: number, loc: Location = window.location): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return withToken(`${scheme}//${loc.host}/api/experiments/${id}/events?after=${after}`);
}

type LiveAction = { type: "events"; events: LiveEvent[] } | { type: "reset"; stages: Stage[] };

function liveReducer(state: LiveState, action: LiveAction): LiveState {
  if (action.type === "reset") return initialLive(action.stages);
  return action.events.reduce(applyLive, state);
}

/**
 * The experiment's events over its WebSocket (past ones replayed first), folded into LiveState.
 * Reconnects from the last event seen when the server drops a slow client (1013) or the
 * connection breaks; stops after `experiment_finished`. Events are applied once per frame.
 */
export function useLiveEvents(id: number, stages: Stage[] | undefined, enabled: boolean) {
  const [state, dispatch] = useReducer(liveReducer, stages ?? [], initialLive);
  const [connection, setConnection] = useState<"connecting" | "open" | "closed" | "error">("connecting");
  const [closeReason, setCloseReason] = useState<string | null>(null);
  const lastSeq = useRef(0);
  const client = useQueryClient();
  const seeded = useRef(false);

  useEffect(() => {
    if (stages && !seeded.current) {
      seeded.current = true;
      dispatch({ type: "reset", stages });
    }
  }, [stages]);

  useEffect(() => {
    if (!enabled) return;
    let socket: WebSocket | null = null;
    let stopped = false;
    let buffer: LiveEvent[] = [];
    let frame = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      frame = 0;
      const events = buffer;
      buffer = [];
      if (events.length) dispatch({ type: "events", events });
    };
    const open = () => {
      setConnection("connecting");
      socket = new WebSocket(eventsUrl(id, lastSeq.current));
      socket.onopen = () => setConnection("open");
      socket.onmessage = (message) => {
        const event = JSON.parse(message.data as string) as LiveEvent;
        if (event.seq !== undefined) lastSeq.current = Math.max(lastSeq.current, event.seq);
        buffer.push(event);
        if (!frame) frame = requestAnimationFrame(flush);
        if (event.type === "experiment_finished") {
          stopped = true;
          for (const key of ["experiment", "leaderboard", "figures", "experiments"]) {
            client.invalidateQueries({ queryKey: key === "experiments" ? [key] : [key, id] });
          }
        }
      };
      socket.onclose = (close) => {
        setConnection(stopped ? "closed" : "error");
        if (close.code === 4404 || close.code === 1008) {
          stopped = true;
          setCloseReason(close.reason || `closed (${close.code})`);
        }
        if (!stopped) retry = setTimeout(open, close.code === 1013 ? 0 : 1000);
      };
    };
    open();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      if (frame) cancelAnimationFrame(frame);
      socket?.close();
    };
  }, [id, enabled, client]);

  return { live: state, connection, closeReason };
}
