import { fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import type { LeaderboardRow } from "../src/api";
import { ciOf, Leaderboard, metricColumns } from "../src/components/Leaderboard";
import { problemsByField } from "../src/components/NewExperimentForm";
import { SamplesGrid } from "../src/components/SamplesGrid";
import { verdictOf } from "../src/pages/ComparePage";
import type { SortSpec } from "../src/samples";
import { sample } from "./fixtures";

const rows: LeaderboardRow[] = [
  { run: "a", model: "tesseract", dataset: "d", prompt: "p", task: "vqa", metrics: { anls: 0.8, anls_ci_low: 0.7, anls_ci_high: 0.9, cer: 0.1 } },
  { run: "b", model: "rapidocr", dataset: "d", prompt: "p", task: "vqa", metrics: { anls: 0.3, cer: 0.5 } },
  { run: "c", model: "tesseract", dataset: "d2", prompt: "j", task: "fields", metrics: { field_f1: 0.9 } },
];

describe("Leaderboard", () => {
  it("has one table per task, CI folded into the metric's cell, sortable by header", () => {
    expect(metricColumns(rows.slice(0, 2))).toEqual(["anls", "cer"]);
    expect(ciOf(rows[0], "anls")).toEqual([0.7, 0.9]);
    render(<Leaderboard rows={rows} />);
    const vqa = screen.getByRole("region", { name: "leaderboard vqa" });
    expect(screen.getByRole("region", { name: "leaderboard fields" })).toBeTruthy();
    const models = () => within(vqa).getAllByRole("row").slice(1).map((r) => within(r).getAllByRole("cell")[0].textContent);
    expect(models()).toEqual(["tesseract", "rapidocr"]); // by anls, best first
    expect(within(vqa).getByText("[0.700, 0.900]")).toBeTruthy();
    fireEvent.click(within(vqa).getByText(/^anls/));
    expect(models()).toEqual(["rapidocr", "tesseract"]);
  });

  it("orders a KIE task by its main metric and shows each run's per-field table", () => {
    const kie: LeaderboardRow[] = [
      {
        run: "t", model: "tesseract", dataset: "receipts", prompt: "kie", task: "kie", main_metric: "field_f1",
        metrics: { structural_fidelity: 1, field_f1: 0.5 },
        higher_is_better: { structural_fidelity: true, field_f1: true, field_omission_rate: false },
        per_field: {
          total: { field_f1: { value: 0.25, ci: [0.1, 0.4], n: 8 }, field_omission_rate: { value: 0.5, n: 8 } },
          company: { field_f1: { value: 1, n: 8 }, field_omission_rate: { value: 0, n: 8 } },
        },
      },
      { run: "r", model: "rapidocr", dataset: "receipts", prompt: "kie", task: "kie", main_metric: "field_f1", metrics: { structural_fidelity: 1, field_f1: 0.8 } },
    ];
    render(<Leaderboard rows={kie} />);
    const board = screen.getByRole("region", { name: "leaderboard kie" });
    const models = within(board).getAllByRole("row").slice(1, 3).map((r) => within(r).getAllByRole("cell")[0].textContent);
    expect(models).toEqual(["rapidocr", "tesseract"]); // by field_f1, not structural fidelity
    expect(within(board).getByText(/^field_f1 ↑ \(main\)/)).toBeTruthy();
    const fields = within(board).getByRole("table", { name: "per field t" });
    const cells = within(fields).getAllByRole("row").map((r) => within(r).queryAllByRole("cell").map((c) => c.textContent));
    expect(cells.slice(1)).toEqual([
      ["company", "1", "0"],
      ["total", "0.250 [0.100, 0.400]", "0.500"],
    ]);
    expect(within(fields).getByText("field_omission_rate ↓")).toBeTruthy();
  });
});

function Grid({ count, onRange = () => {} }: { count: number; onRange?: (first: number, last: number) => void }) {
  const [selected, setSelected] = useState(0);
  const [sort, setSort] = useState<SortSpec>({ key: "id", desc: false });
  const data = Array.from({ length: count }, (_, i) => sample(i));
  return (
    <>
      <output data-testid="selected">{selected}</output>
      <SamplesGrid
        count={count}
        rowAt={(i) => data[i]}
        metric="anls"
        sort={sort}
        onSort={(key) => setSort({ key, desc: false })}
        selected={selected}
        onSelect={setSelected}
        onRange={onRange}
      />
    </>
  );
}

describe("SamplesGrid", () => {
  // jsdom does no layout: give elements the 600 px viewport a browser would measure
  const sizes = { clientHeight: 600, clientWidth: 800 };
  const saved: Record<string, PropertyDescriptor | undefined> = {};
  beforeEach(() => {
    for (const [key, value] of Object.entries(sizes)) {
      saved[key] = Object.getOwnPropertyDescriptor(Element.prototype, key);
      Object.defineProperty(Element.prototype, key, { configurable: true, get: () => value });
    }
  });
  afterEach(() => {
    for (const key of Object.keys(sizes)) Object.defineProperty(Element.prototype, key, saved[key]!);
  });

  it("renders only the rows in view of 50k, tells which are in view, and moves the selection with the keyboard", () => {
    const ranges: [number, number][] = [];
    render(<Grid count={50_000} onRange={(first, last) => ranges.push([first, last])} />);
    expect(ranges.at(-1)?.[0]).toBe(0);
    expect(ranges.at(-1)?.[1]).toBeLessThan(100);
    const shown = screen.getAllByTestId("sample-row").length;
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(100);
    const body = screen.getByTestId("grid-body");
    fireEvent.keyDown(body, { key: "ArrowDown" });
    fireEvent.keyDown(body, { key: "j" });
    expect(screen.getByTestId("selected").textContent).toBe("2");
    fireEvent.keyDown(body, { key: "End" });
    expect(screen.getByTestId("selected").textContent).toBe("49999");
    fireEvent.click(screen.getByRole("columnheader", { name: /latency/ }));
    expect(screen.getByRole("columnheader", { name: /latency/ }).getAttribute("aria-sort")).toBe("ascending");
  });

  it("has question, reference, answer and the metric's score as columns", () => {
    render(<Grid count={3} />);
    const heads = screen.getAllByRole("columnheader").map((h) => h.textContent);
    expect(heads).toEqual(["sample", "run", "question", "reference", "answer", "anls", "latency"]);
    const cells = within(screen.getAllByTestId("sample-row")[1]).getAllByRole("gridcell").map((c) => c.textContent);
    expect(cells).toEqual(["doc-0", "tesseract__vqa__q", "What is field 1?", "answer 1", "answer 1", "1", "0.10"]);
  });
});

describe("form and compare helpers", () => {
  it("puts each server problem next to its field", () => {
    const sorted = problemsByField([
      "registries/experiments/x.yaml:3: matrix.models[0]: expected the name of a models entry",
      "limit: expected a positive integer, got 'x'",
      "/tmp/specs/user_config.csv:1: missing columns dataset",
      "something else",
    ]);
    expect(sorted.models).toEqual(["matrix.models[0]: expected the name of a models entry"]);
    expect(sorted.limit).toHaveLength(1);
    expect(sorted.user_config).toHaveLength(1);
    expect(sorted.form).toEqual(["something else"]);
  });

  it("gives a verdict from the server's test, else from the delta's sign and direction", () => {
    const base = { metric: "cer", a: 0.2, b: 0.1, delta: -0.1, higher_is_better: false, n_paired: 5 };
    expect(verdictOf(base)).toEqual({ text: "b better (no test)", tone: "better" });
    expect(verdictOf({ ...base, verdict: "worse", p_value: 0.01 }).tone).toBe("worse");
    expect(verdictOf({ ...base, delta: null }).tone).toBe("unknown");
  });
});
