import {
  answerBox,
  answersFor,
  EMPTY_FILTER,
  facets,
  filterErrors,
  filterSamples,
  sortSamples,
} from "../src/samples";
import { sample } from "./fixtures";

const all = Array.from({ length: 60 }, (_, i) => sample(i));

describe("samples filtering", () => {
  it("filters by run, doc class, question type and text", () => {
    const shown = filterSamples(all, { ...EMPTY_FILTER, run: "tesseract__vqa__q", docClass: "snils", questionType: "date" });
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every((s) => s.run === "tesseract__vqa__q" && s.doc_class === "snils" && s.question_type === "date")).toBe(true);
    expect(filterSamples(all, { ...EMPTY_FILTER, q: "FIELD 7?" }).map((s) => s.id)).toEqual([7]);
  });

  it("filters by a score range of one metric and by latency", () => {
    const low = filterSamples(all, { ...EMPTY_FILTER, metric: "anls", scoreMax: "0.5" });
    expect(low.length).toBe(20);
    expect(low.every((s) => s.scores.anls === 0.25)).toBe(true);
    const slow = filterSamples(all, { ...EMPTY_FILTER, latencyMin: "0.8" });
    expect(slow.every((s) => (s.latency_s ?? 0) >= 0.8)).toBe(true);
    expect(slow.length).toBe(12);
  });

  it("names bad filter input by field", () => {
    expect(filterErrors({ ...EMPTY_FILTER, scoreMin: "high" })).toEqual({
      scoreMin: "expected a number",
      metric: "choose the metric the score range applies to",
    });
    expect(filterErrors(EMPTY_FILTER)).toEqual({});
  });

  it("sorts by score or column, stable, with missing values last", () => {
    const withMissing = [...all.slice(0, 6), sample(99, { latency_s: null })];
    const byLatency = sortSamples(withMissing, { key: "latency_s", desc: true });
    expect(byLatency[byLatency.length - 1].id).toBe(99);
    expect(byLatency[0].latency_s).toBe(0.5);
    const byScore = sortSamples(all, { key: "score:anls", desc: false });
    expect(byScore[0].scores.anls).toBe(0.25);
    expect(byScore[0].id).toBe(0); // ties keep id order
  });

  it("lists facets, every run's answer to a sample, and the answer box", () => {
    const f = facets(all);
    expect(f.runs).toEqual(["rapidocr__vqa__q", "tesseract__vqa__q"]);
    expect(f.metrics).toEqual(["anls", "cer"]);
    expect(answersFor(all, "doc-3").map((s) => s.id)).toEqual([6, 7]);
    expect(answerBox(sample(1, { metadata: { answer_bbox: [1, 2, 30, 40] } }))).toEqual([1, 2, 30, 40]);
    expect(answerBox(sample(1, { metadata: { answer_bbox: "1,2" } }))).toBeNull();
  });
});
