/** One uPlot chart of a device's figures over time (buckets from the telemetry API); the watchdog restarts in
 * the range are drawn as vertical marks. A second axis on the right for a series with another unit. */

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { DARK_AXIS, mountChart } from "../../ui/chart";
import { pointCount } from "./health";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** "right": drawn against the right axis (another unit). */
  axis?: "right";
  dash?: number[];
}

interface Props {
  id: string;
  title: string;
  unit: string;
  rightUnit?: string;
  t: number[];
  series: ChartSeries[];
  /** Bucket starts (epoch seconds) to mark: the watchdog restarts. */
  marks: number[];
  /** Axis tick text for a value, given the step between ticks (bytes as GB with as many decimals as the step
   * needs…). */
  format?: (v: number, step: number) => string;
}

const MARK_COLOR = "#ff6b6b";
const HEIGHT = 180;

function drawMarks(u: uPlot, marks: readonly number[]) {
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = MARK_COLOR;
  ctx.lineWidth = 2 * uPlot.pxRatio;
  ctx.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
  for (const at of marks) {
    const x = u.valToPos(at, "x", true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}

export function HealthChart({ id, title, unit, rightUnit, t, series, marks, format }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const marked = useRef(marks);
  marked.current = marks;

  useEffect(() => {
    const el = host.current!;
    const tick = (_u: uPlot, values: number[], _axis: number, _space: number, step: number) =>
      values.map((v) => (format ? format(v, step) : String(v)));
    const axes: uPlot.Axis[] = [
      DARK_AXIS,
      { ...DARK_AXIS, values: tick, size: 60, label: unit },
    ];
    if (rightUnit) axes.push({ scale: "right", side: 1, stroke: "#ccc", grid: { show: false }, label: rightUnit, size: 60 });
    const opts: Omit<uPlot.Options, "width" | "height"> = {
      scales: { x: { time: true }, ...(rightUnit ? { right: {} } : {}) },
      series: [{}, ...series.map((s) => ({
        label: s.label, stroke: s.color, width: 2, scale: s.axis === "right" ? "right" : "y",
        ...(s.dash ? { dash: s.dash } : {}), points: { show: pointCount(s.values) < 40 },
      }))],
      axes,
      legend: { show: true },
      hooks: { draw: [(u: uPlot) => drawMarks(u, marked.current)] },
    };
    const data = [t, ...series.map((s) => s.values)] as uPlot.AlignedData;
    return mountChart(el, opts, data, { minWidth: 300, height: HEIGHT }).dispose;
  }, [t, series, rightUnit, unit, format]);

  const summary = series.map((s) => `${s.label}: ${pointCount(s.values)} points`).join(", ");
  return (
    <figure class="health-chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <div ref={host} class="chart" data-testid={`chart-${id}`} data-buckets={t.length}
           data-points={series.map((s) => pointCount(s.values)).join(",")} data-marks={marks.length}
           role="img" aria-label={`${title} over time. ${summary}.${marks.length ? ` ${marks.length} watchdog restart marks.` : ""}`} />
    </figure>
  );
}
