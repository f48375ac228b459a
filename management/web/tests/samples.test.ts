import { answerBox, charDiff, EMPTY_FILTER, filterErrors, serverQuery, viewFromUrl, viewToUrl, type ExplorerView } from "../src/samples";
import { sample } from "./fixtures";

describe("the explorer's view in the URL", () => {
  const view: ExplorerView = {
    filter: { ...EMPTY_FILTER, q: "total 9.00", run: "qwen__receipts__kie", metric: "field_f1", scoreMax: "0.5", latencyMin: "1" },
    sort: { key: "score:field_f1", desc: true },
    sample: 42,
  };

  it("round-trips filters, sort and the open sample through the address", () => {
    const url = viewToUrl(view);
    expect(url.toString()).toBe(
      "q=total+9.00&run=qwen__receipts__kie&metric=field_f1&score_max=0.5&latency_min=1&sort=score%3Afield_f1&order=desc&sample=42",
    );
    expect(viewFromUrl(new URLSearchParams(url.toString()))).toEqual(view);
    expect(viewToUrl({ filter: EMPTY_FILTER, sort: { key: "id", desc: false }, sample: null }).toString()).toBe("");
    expect(viewFromUrl(new URLSearchParams("sample=abc")).sample).toBeNull();
  });

  it("becomes the server's samples query (metric only when a score range needs it)", () => {
    expect(serverQuery(view.filter, view.sort)).toEqual({
      q: "total 9.00",
      run: "qwen__receipts__kie",
      metric: "field_f1",
      score_max: "0.5",
      latency_min: "1",
      sort: "score:field_f1",
      order: "desc",
    });
    expect(serverQuery({ ...EMPTY_FILTER, metric: "anls", docClass: "receipt" }, { key: "id", desc: false })).toEqual({
      doc_class: "receipt",
      sort: "id",
      order: "asc",
    });
  });

  it("names bad filter input by field", () => {
    expect(filterErrors({ ...EMPTY_FILTER, scoreMin: "high" })).toEqual({
      scoreMin: "expected a number",
      metric: "choose the metric the score range applies to",
    });
    expect(filterErrors({ ...EMPTY_FILTER, latencyMax: "Infinity" })).toEqual({ latencyMax: "expected a number" });
    expect(filterErrors(EMPTY_FILTER)).toEqual({});
  });
});

describe("sample helpers", () => {
  it("marks, character by character, what the answer lacks and adds", () => {
    const { reference, answer } = charDiff("TOTAL 9.00", "T0TAL 9.00 RM");
    expect(reference).toEqual([
      { text: "T", kind: "same" },
      { text: "O", kind: "removed" },
      { text: "TAL 9.00", kind: "same" },
    ]);
    expect(answer).toEqual([
      { text: "T", kind: "same" },
      { text: "0", kind: "added" },
      { text: "TAL 9.00", kind: "same" },
      { text: " RM", kind: "added" },
    ]);
    expect(reference.map((p) => p.text).join("")).toBe("TOTAL 9.00");
  });

  it("reads the dataset's answer box", () => {
    expect(answerBox(sample(1, { metadata: { answer_bbox: [1, 2, 30, 40] } }))).toEqual([1, 2, 30, 40]);
    expect(answerBox(sample(1, { metadata: { answer_bbox: "1,2" } }))).toBeNull();
  });
});
