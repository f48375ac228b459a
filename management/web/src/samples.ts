/**
 * The samples explorer's view state, held in the page's URL (so a filtered view, its sort and
 * the open sample can be shared as a link), and its translation into the server's samples query:
 * filtering, search and sorting run in the server's indexed query, never over every sample in
 * the browser (50k samples took 48 s to load that way).
 */
import { diffChars } from "diff";
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

export interface ExplorerView {
  filter: SampleFilter;
  sort: SortSpec;
  /** the open sample's row id, or null */
  sample: number | null;
}

/** URL parameter of each filter field: the server's own names, so the link reads as the API does. */
const PARAM: Record<keyof SampleFilter, string> = {
  q: "q",
  run: "run",
  docClass: "doc_class",
  questionType: "question_type",
  metric: "metric",
  scoreMin: "score_min",
  scoreMax: "score_max",
  latencyMin: "latency_min",
  latencyMax: "latency_max",
};

export function viewFromUrl(search: URLSearchParams): ExplorerView {
  const filter = { ...EMPTY_FILTER };
  for (const key of Object.keys(PARAM) as (keyof SampleFilter)[]) filter[key] = search.get(PARAM[key]) ?? "";
  const sortKey = (search.get("sort") || "id") as SortKey;
  const sample = Number(search.get("sample"));
  return {
    filter,
    sort: { key: sortKey, desc: search.get("order") === "desc" },
    sample: search.get("sample") && Number.isSafeInteger(sample) ? sample : null,
  };
}

export function viewToUrl(view: ExplorerView): URLSearchParams {
  const search = new URLSearchParams();
  for (const key of Object.keys(PARAM) as (keyof SampleFilter)[]) {
    if (view.filter[key].trim() !== "") search.set(PARAM[key], view.filter[key].trim());
  }
  if (view.sort.key !== "id") search.set("sort", view.sort.key);
  if (view.sort.desc) search.set("order", "desc");
  if (view.sample !== null) search.set("sample", String(view.sample));
  return search;
}

/** The samples query for the server (filters, search, sort), without paging. */
export function serverQuery(filter: SampleFilter, sort: SortSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(PARAM) as (keyof SampleFilter)[]) {
    if (key === "metric" && !filter.scoreMin.trim() && !filter.scoreMax.trim()) continue; // picks a column only
    if (filter[key].trim() !== "") out[PARAM[key]] = filter[key].trim();
  }
  out.sort = sort.key;
  out.order = sort.desc ? "desc" : "asc";
  return out;
}

function isNumber(text: string): boolean {
  return text.trim() !== "" && Number.isFinite(Number(text));
}

/** Bad filter input, named by field, shown next to the form (and not sent to the server). */
export function filterErrors(filter: SampleFilter): Partial<Record<keyof SampleFilter, string>> {
  const errors: Partial<Record<keyof SampleFilter, string>> = {};
  for (const key of ["scoreMin", "scoreMax", "latencyMin", "latencyMax"] as const) {
    if (filter[key].trim() !== "" && !isNumber(filter[key])) errors[key] = "expected a number";
  }
  if ((filter.scoreMin.trim() || filter.scoreMax.trim()) && !filter.metric) {
    errors.metric = "choose the metric the score range applies to";
  }
  return errors;
}

/** `metadata.answer_bbox` as [x1, y1, x2, y2] when the dataset provides it. */
export function answerBox(sample: Sample): [number, number, number, number] | null {
  const box = sample.metadata?.answer_bbox;
  if (Array.isArray(box) && box.length === 4 && box.every((v) => typeof v === "number")) {
    return box as [number, number, number, number];
  }
  return null;
}

/** A piece of text in a character-level comparison: kept, or only on that side. */
export interface DiffPart {
  text: string;
  kind: "same" | "removed" | "added";
}

/**
 * Character-level differences between the reference and an answer, as each side shows them:
 * the reference with what the answer lacks marked `removed`, the answer with what it adds
 * marked `added`.
 */
export function charDiff(reference: string, answer: string): { reference: DiffPart[]; answer: DiffPart[] } {
  const ref: DiffPart[] = [];
  const ans: DiffPart[] = [];
  for (const change of diffChars(reference, answer)) {
    if (change.added) ans.push({ text: change.value, kind: "added" });
    else if (change.removed) ref.push({ text: change.value, kind: "removed" });
    else {
      ref.push({ text: change.value, kind: "same" });
      ans.push({ text: change.value, kind: "same" });
    }
  }
  return { reference: ref, answer: ans };
}
