import { useEffect, useRef, useState } from "react";
import type { PlotlyFigure } from "../api";

type PlotlyModule = {
  react: (el: HTMLElement, data: unknown[], layout: unknown, config?: unknown) => Promise<unknown>;
  purge: (el: HTMLElement) => void;
};

let plotly: Promise<PlotlyModule> | null = null;

/** plotly.js (the cartesian bundle, ~1.3 MB): loaded on the first chart only, as its own chunk. */
function loadPlotly(): Promise<PlotlyModule> {
  plotly ??= import("plotly.js-cartesian-dist-min").then((m) => (m.default ?? m) as unknown as PlotlyModule);
  return plotly;
}

/** Renders a server-made Plotly figure (`data`, `layout`) as is: the server decides the chart. */
export function Plot({ figure, title }: { figure: PlotlyFigure; title?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let cancelled = false;
    loadPlotly()
      .then((p) => {
        if (!cancelled) return p.react(el, figure.data, { autosize: true, ...figure.layout }, { responsive: true, displaylogo: false });
      })
      .catch((e: Error) => setError(`chart ${title ?? ""} could not be drawn: ${e.message}`));
    return () => {
      cancelled = true;
      loadPlotly().then((p) => p.purge(el)).catch(() => undefined);
    };
  }, [figure, title]);
  return (
    <div className="plot-wrap">
      {error && <div className="error">{error}</div>}
      <div ref={ref} className="plot" data-testid="plot" aria-label={title} />
    </div>
  );
}
