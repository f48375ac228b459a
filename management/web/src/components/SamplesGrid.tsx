import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import type { Sample } from "../api";
import { fmtNumber } from "../format";
import type { SortKey, SortSpec } from "../samples";

const ROW_HEIGHT = 30;

interface Column {
  key: SortKey | null;
  label: string;
  /** CSS grid track: text columns share the width, so nothing needs a horizontal scroll */
  track: string;
  /** the track's least width in px, for the grid's minimum width */
  min: number;
  cell: (s: Sample) => string;
  num?: boolean;
}

/**
 * Only the rows in view (plus a few) are in the DOM, and only their pages are fetched
 * (`onRange` tells the page which rows are in view). Question, reference, answer and the
 * chosen metric's score are columns, sized to fit the window without a horizontal scroll; the
 * full texts are in the sample view. Arrow keys (or j/k) move the selection; click selects.
 */
export function SamplesGrid({
  count,
  rowAt,
  metric,
  sort,
  onSort,
  selected,
  onSelect,
  onRange,
  openId = null,
}: {
  count: number;
  rowAt: (index: number) => Sample | undefined;
  /** the score column's metric ("" when the experiment has no scores) */
  metric: string;
  sort: SortSpec;
  onSort: (key: SortKey) => void;
  selected: number;
  onSelect: (index: number) => void;
  onRange: (first: number, last: number) => void;
  /** the open sample's row id: marked when no row is selected here (a shared link) */
  openId?: number | null;
}) {
  const parent = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => parent.current,
    estimateSize: () => ROW_HEIGHT,
    scrollPaddingStart: ROW_HEIGHT, // the sticky header covers the first row's height
    overscan: 10,
    // jsdom has no layout: give the virtualizer a viewport so tests render rows too
    initialRect: { width: 800, height: 600 },
  });
  useEffect(() => {
    if (selected >= 0 && selected < count) virtualizer.scrollToIndex(selected, { align: "auto" });
  }, [selected, count, virtualizer]);
  const items = virtualizer.getVirtualItems();
  const first = items.length ? items[0].index : 0;
  const last = items.length ? items[items.length - 1].index : -1;
  useEffect(() => {
    onRange(first, last);
  }, [first, last, onRange]);

  const text = (v: string | null) => v ?? "–";
  const columns: Column[] = [
    { key: "sample_id", label: "sample", track: "minmax(70px,0.8fr)", min: 70, cell: (s) => s.sample_id },
    { key: "run", label: "run", track: "minmax(70px,0.9fr)", min: 70, cell: (s) => s.run },
    { key: null, label: "question", track: "minmax(70px,1.2fr)", min: 70, cell: (s) => text(s.question) },
    { key: null, label: "reference", track: "minmax(80px,1.4fr)", min: 80, cell: (s) => text(s.reference) },
    { key: null, label: "answer", track: "minmax(80px,1.4fr)", min: 80, cell: (s) => text(s.answer) },
    ...(metric
      ? [{ key: `score:${metric}` as SortKey, label: metric, track: "84px", min: 84, cell: (s: Sample) => fmtNumber(s.scores[metric], 2), num: true }]
      : []),
    { key: "latency_s", label: "latency", track: "72px", min: 72, cell: (s) => fmtNumber(s.latency_s, 2), num: true },
  ];
  const template = columns.map((c) => c.track).join(" ");
  const minWidth = columns.reduce((sum, c) => sum + c.min, 0);
  const onKey = (e: React.KeyboardEvent) => {
    const moves: Record<string, number> = { ArrowDown: selected + 1, j: selected + 1, ArrowUp: selected - 1, k: selected - 1 };
    moves.PageDown = selected + 20;
    moves.PageUp = selected - 20;
    moves.Home = 0;
    moves.End = count - 1;
    if (e.key in moves && count > 0) {
      e.preventDefault();
      onSelect(Math.max(0, Math.min(count - 1, moves[e.key])));
    }
  };
  return (
    <div className="grid" role="grid" aria-rowcount={count} aria-label="samples">
      <div className="grid-body" ref={parent} tabIndex={0} onKeyDown={onKey} data-testid="grid-body">
        <div className="grid-head" role="row" style={{ gridTemplateColumns: template, minWidth }}>
          {columns.map((c) => (
            <div
              key={c.label}
              role="columnheader"
              className={`${c.key ? "sortable" : ""}${c.num ? " num" : ""}`}
              aria-sort={c.key ? (sort.key === c.key ? (sort.desc ? "descending" : "ascending") : "none") : undefined}
              onClick={c.key ? () => onSort(c.key!) : undefined}
            >
              {c.label}
              {sort.key === c.key ? (sort.desc ? " ▼" : " ▲") : ""}
            </div>
          ))}
        </div>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative", minWidth }}>
          {items.map((item) => {
            const s = rowAt(item.index);
            const mark = item.index === selected || (selected < 0 && s !== undefined && s.id === openId);
            return (
              <div
                key={item.index}
                role="row"
                aria-rowindex={item.index + 1}
                aria-selected={mark}
                data-testid={s ? "sample-row" : "sample-row-loading"}
                className={`grid-row${mark ? " selected" : ""}`}
                style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT, gridTemplateColumns: template }}
                onClick={() => onSelect(item.index)}
              >
                {columns.map((c) => (
                  <div role="gridcell" key={c.label} className={c.num ? "num" : undefined} title={s && !c.num ? c.cell(s) : undefined}>
                    {s ? c.cell(s) : "…"}
                  </div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
