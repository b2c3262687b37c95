/** uPlot chart of a camera's counts; dragging across it selects a flag window. */

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Columns } from "../../counts/series";

const COLORS = ["#00a3e0", "#e07b00", "#7a5cff", "#1a9e50", "#d6336c"];

export function CountsChart({ columns, onSelect }: { columns: Columns; onSelect: (from: number, to: number) => void }) {
  const host = useRef<HTMLDivElement>(null);
  const select = useRef(onSelect);
  select.current = onSelect;

  useEffect(() => {
    const el = host.current!;
    const opts: uPlot.Options = {
      width: Math.max(320, el.clientWidth),
      height: 300,
      scales: { x: { time: true } },
      series: [{}, ...columns.names.map((name, i) => ({
        label: name, stroke: COLORS[i % COLORS.length]!, width: 2, points: { show: false },
      }))],
      axes: [{ stroke: "#ccc", grid: { stroke: "#333" } }, { stroke: "#ccc", grid: { stroke: "#333" } }],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(u: uPlot) => {
          if (u.select.width <= 0) return;
          const from = u.posToVal(u.select.left, "x");
          const to = u.posToVal(u.select.left + u.select.width, "x");
          select.current(from, to);
        }],
      },
    };
    const chart = new uPlot(opts, [columns.x, ...columns.values], el);
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(320, el.clientWidth), height: 300 }));
    observer.observe(el);
    return () => { observer.disconnect(); chart.destroy(); };
  }, [columns]);

  return <div ref={host} class="chart" data-testid="counts-chart" role="img"
              aria-label={`Counts over time: ${columns.names.join(", ") || "no counts in this range"}`} />;
}
