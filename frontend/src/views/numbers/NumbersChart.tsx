/** uPlot chart of one camera's numbers per bucket: the model's count, the model's count over the corrected
 * windows and the corrected count; a dashed line marks each bucket where another model took over. */

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { DARK_AXIS, mountChart } from "../../ui/chart";
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
    const opts: Omit<uPlot.Options, "width" | "height"> = {
      scales: { x: { time: true } },
      series: [{}, ...SERIES.map((s, i) => ({ ...s, width: 2, points: { show: i > 0 }, spanGaps: false }))],
      axes: [DARK_AXIS, DARK_AXIS],
      hooks: { draw: [(u: uPlot) => drawModelChanges(u, columns.modelChanges)] },
    };
    const data = [columns.x, columns.model, columns.modelCorrected, columns.corrected] as uPlot.AlignedData;
    return mountChart(el, opts, data, { minWidth: 320, height: 300 }).dispose;
  }, [columns]);
  return <div ref={host} class="chart" data-testid="numbers-chart" role="img"
              aria-label="Model count against corrected count over time" />;
}
