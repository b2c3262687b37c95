/** uPlot chart of one camera's numbers per bucket: the model's count, the model's count over the corrected
 * windows and the corrected count; a dashed line marks each bucket where another model took over. */

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { NumbersColumns } from "../../counts/numbers";

const SERIES = [
  { label: "Model count", stroke: "#00a3e0" },
  { label: "Model count (corrected windows)", stroke: "#e07b00" },
  { label: "Corrected count", stroke: "#1a9e50" },
];

function drawModelChanges(u: uPlot, changes: NumbersColumns["modelChanges"]) {
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = "#d6336c";
  ctx.fillStyle = "#d6336c";
  ctx.setLineDash([6, 4]);
  ctx.font = `${12 * devicePixelRatio}px sans-serif`;
  for (const change of changes) {
    const x = u.valToPos(change.at, "x", true);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    // The label goes right of the line, or left of it when it would run off the plot.
    const width = ctx.measureText(change.name).width;
    const left = x + 4 + width > u.bbox.left + u.bbox.width ? x - 4 - width : x + 4;
    ctx.fillText(change.name, left, u.bbox.top + 14 * devicePixelRatio);
  }
  ctx.restore();
}

export function NumbersChart({ columns }: { columns: NumbersColumns }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current!;
    const opts: uPlot.Options = {
      width: Math.max(320, el.clientWidth),
      height: 300,
      scales: { x: { time: true } },
      series: [{}, ...SERIES.map((s, i) => ({ ...s, width: 2, points: { show: i > 0 }, spanGaps: false }))],
      axes: [{ stroke: "#ccc", grid: { stroke: "#333" } }, { stroke: "#ccc", grid: { stroke: "#333" } }],
      hooks: { draw: [(u: uPlot) => drawModelChanges(u, columns.modelChanges)] },
    };
    const instance = new uPlot(opts, [columns.x, columns.model, columns.modelCorrected, columns.corrected] as uPlot.AlignedData, el);
    const observer = new ResizeObserver(() => instance.setSize({ width: Math.max(320, el.clientWidth), height: 300 }));
    observer.observe(el);
    return () => { observer.disconnect(); instance.destroy(); };
  }, [columns]);
  return <div ref={host} class="chart" data-testid="numbers-chart" role="img"
              aria-label="Model count against corrected count over time" />;
}
