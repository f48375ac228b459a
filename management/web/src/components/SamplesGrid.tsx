import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import type { Sample } from "../api";
import { fmtNumber } from "../format";
import type { SortKey, SortSpec } from "../samples";

const ROW_HEIGHT = 30;

/**
 * Only the rows in view (plus a few) are in the DOM, so 50k samples cost what 30 do. Arrow keys
 * (or j/k) move the selection and keep it in view; Enter/click selects.
 */
export function SamplesGrid({
  rows,
  metrics,
  sort,
  onSort,
  selected,
  onSelect,
}: {
  rows: Sample[];
  metrics: string[];
  sort: SortSpec;
  onSort: (key: SortKey) => void;
  selected: number;
  onSelect: (index: number) => void;
}) {
  const parent = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parent.current,
    estimateSize: () => ROW_HEIGHT,
    scrollPaddingStart: ROW_HEIGHT, // the sticky header covers the first row's height
    overscan: 10,
    // jsdom has no layout: give the virtualizer a viewport so tests render rows too
    initialRect: { width: 800, height: 600 },
  });
  useEffect(() => {
    if (selected >= 0 && selected < rows.length) virtualizer.scrollToIndex(selected, { align: "auto" });
  }, [selected, rows.length, virtualizer]);

  const columns: { key: SortKey; label: string }[] = [
    { key: "sample_id", label: "sample" },
    { key: "run", label: "run" },
    { key: "doc_class", label: "doc class" },
    { key: "question_type", label: "question type" },
    { key: "latency_s", label: "latency s" },
    ...metrics.map((m) => ({ key: `score:${m}` as SortKey, label: m })),
  ];
  const template = `minmax(140px,1.4fr) minmax(160px,2fr) 90px 100px 70px ${metrics.map(() => "70px").join(" ")}`;
  const minWidth = 140 + 160 + 90 + 100 + 70 + 70 * metrics.length;
  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === "ArrowDown" || e.key === "j") {
      e.preventDefault();
      onSelect(Math.min(rows.length - 1, selected + 1));
    } else if (e.key === "ArrowUp" || e.key === "k") {
      e.preventDefault();
      onSelect(Math.max(0, selected - 1));
    } else if (e.key === "PageDown") {
      e.preventDefault();
      onSelect(Math.min(rows.length - 1, selected + 20));
    } else if (e.key === "PageUp") {
      e.preventDefault();
      onSelect(Math.max(0, selected - 20));
    } else if (e.key === "Home") {
      e.preventDefault();
      onSelect(0);
    } else if (e.key === "End") {
      e.preventDefault();
      onSelect(rows.length - 1);
    }
  };
  return (
    <div className="grid" role="grid" aria-rowcount={rows.length} aria-label="samples">
      <div className="grid-body" ref={parent} tabIndex={0} onKeyDown={onKey} data-testid="grid-body">
        <div className="grid-head" role="row" style={{ gridTemplateColumns: template, minWidth }}>
          {columns.map((c) => (
            <div
              key={c.key}
              role="columnheader"
              className="sortable"
              aria-sort={sort.key === c.key ? (sort.desc ? "descending" : "ascending") : "none"}
              onClick={() => onSort(c.key)}
            >
              {c.label}
              {sort.key === c.key ? (sort.desc ? " ▼" : " ▲") : ""}
            </div>
          ))}
        </div>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative", minWidth }}>
          {virtualizer.getVirtualItems().map((item) => {
            const s = rows[item.index];
            return (
              <div
                key={s.id}
                role="row"
                aria-rowindex={item.index + 1}
                aria-selected={item.index === selected}
                data-testid="sample-row"
                className={`grid-row${item.index === selected ? " selected" : ""}`}
                style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT, gridTemplateColumns: template }}
                onClick={() => onSelect(item.index)}
              >
                <div role="gridcell">{s.sample_id}</div>
                <div role="gridcell" title={s.run}>
                  {s.run}
                </div>
                <div role="gridcell">{s.doc_class ?? "–"}</div>
                <div role="gridcell">{s.question_type ?? "–"}</div>
                <div role="gridcell" className="num">
                  {fmtNumber(s.latency_s, 2)}
                </div>
                {metrics.map((m) => (
                  <div role="gridcell" key={m} className="num">
                    {fmtNumber(s.scores[m], 2)}
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
