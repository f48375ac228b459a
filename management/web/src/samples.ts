/**
 * The samples explorer's filtering and sorting, done in the browser over every sample of the
 * experiment (loaded once, in pages): then score and latency ranges, facets and text search all
 * answer without a round trip, which is what keeps the grid responsive at 50k samples.
 */
import type { Sample } from "./api";

export interface SampleFilter {
  q: string;
  run: string;
  docClass: string;
  questionType: string;
  metric: string;
  scoreMin: string;
  scoreMax: string;
  latencyMin: string;
  latencyMax: string;
}

export const EMPTY_FILTER: SampleFilter = {
  q: "",
  run: "",
  docClass: "",
  questionType: "",
  metric: "",
  scoreMin: "",
  scoreMax: "",
  latencyMin: "",
  latencyMax: "",
};

export type SortKey = "id" | "sample_id" | "run" | "latency_s" | "doc_class" | "question_type" | `score:${string}`;

export interface SortSpec {
  key: SortKey;
  desc: boolean;
}

function bound(text: string): number | null {
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** Bad filter input, named by field, for the form to show next to it. */
export function filterErrors(filter: SampleFilter): Partial<Record<keyof SampleFilter, string>> {
  const errors: Partial<Record<keyof SampleFilter, string>> = {};
  for (const key of ["scoreMin", "scoreMax", "latencyMin", "latencyMax"] as const) {
    if (filter[key].trim() !== "" && bound(filter[key]) === null) errors[key] = "expected a number";
  }
  if ((filter.scoreMin.trim() || filter.scoreMax.trim()) && !filter.metric) {
    errors.metric = "choose the metric the score range applies to";
  }
  return errors;
}

export function filterSamples(samples: readonly Sample[], filter: SampleFilter): Sample[] {
  const q = filter.q.trim().toLowerCase();
  const scoreMin = bound(filter.scoreMin);
  const scoreMax = bound(filter.scoreMax);
  const latMin = bound(filter.latencyMin);
  const latMax = bound(filter.latencyMax);
  const scored = filter.metric && (scoreMin !== null || scoreMax !== null);
  return samples.filter((s) => {
    if (filter.run && s.run !== filter.run) return false;
    if (filter.docClass && s.doc_class !== filter.docClass) return false;
    if (filter.questionType && s.question_type !== filter.questionType) return false;
    if (scored) {
      const v = s.scores[filter.metric];
      if (typeof v !== "number") return false;
      if (scoreMin !== null && v < scoreMin) return false;
      if (scoreMax !== null && v > scoreMax) return false;
    }
    if (latMin !== null || latMax !== null) {
      const v = s.latency_s;
      if (typeof v !== "number") return false;
      if (latMin !== null && v < latMin) return false;
      if (latMax !== null && v > latMax) return false;
    }
    if (q) {
      const hit =
        s.sample_id.toLowerCase().includes(q) ||
        (s.question ?? "").toLowerCase().includes(q) ||
        (s.answer ?? "").toLowerCase().includes(q) ||
        (s.reference ?? "").toLowerCase().includes(q);
      if (!hit) return false;
    }
    return true;
  });
}

function sortValue(s: Sample, key: SortKey): string | number | null {
  if (key.startsWith("score:")) {
    const v = s.scores[key.slice(6)];
    return typeof v === "number" ? v : null;
  }
  return s[key as Exclude<SortKey, `score:${string}`>] as string | number | null;
}

/** Stable sort; missing values last in both directions (as the server sorts them). */
export function sortSamples(samples: readonly Sample[], sort: SortSpec): Sample[] {
  const sign = sort.desc ? -1 : 1;
  return [...samples].sort((a, b) => {
    const va = sortValue(a, sort.key);
    const vb = sortValue(b, sort.key);
    if (va === null || va === undefined) return vb === null || vb === undefined ? a.id - b.id : 1;
    if (vb === null || vb === undefined) return -1;
    const c = typeof va === "number" && typeof vb === "number" ? va - vb : String(va).localeCompare(String(vb));
    return c !== 0 ? sign * c : a.id - b.id;
  });
}

export interface Facets {
  runs: string[];
  docClasses: string[];
  questionTypes: string[];
  metrics: string[];
}

export function facets(samples: readonly Sample[]): Facets {
  const runs = new Set<string>();
  const docs = new Set<string>();
  const types = new Set<string>();
  const metrics = new Set<string>();
  for (const s of samples) {
    runs.add(s.run);
    if (s.doc_class) docs.add(s.doc_class);
    if (s.question_type) types.add(s.question_type);
    for (const m of Object.keys(s.scores)) metrics.add(m);
  }
  const sorted = (set: Set<string>) => [...set].sort();
  return { runs: sorted(runs), docClasses: sorted(docs), questionTypes: sorted(types), metrics: sorted(metrics) };
}

/** Every run's answer to the same sample, for the side-by-side view. */
export function answersFor(samples: readonly Sample[], sampleId: string): Sample[] {
  return samples.filter((s) => s.sample_id === sampleId);
}

/** `metadata.answer_bbox` as [x1, y1, x2, y2] when the dataset provides it. */
export function answerBox(sample: Sample): [number, number, number, number] | null {
  const box = sample.metadata?.answer_bbox;
  if (Array.isArray(box) && box.length === 4 && box.every((v) => typeof v === "number")) {
    return box as [number, number, number, number];
  }
  return null;
}
