/**
 * A uPlot chart that fills its host's width and follows it when the host resizes; the app's dark axes. Every
 * chart of the app (counts, numbers, device health) mounts through here.
 */

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** The app's axis look on its dark background. */
export const DARK_AXIS: uPlot.Axis = { stroke: "#ccc", grid: { stroke: "#333" } };

/** Draw `data` in `host` at its width (at least `minWidth`) and `height`; the returned chart resizes with the
 * host until `dispose` (call it from the effect's cleanup). */
export function mountChart(host: HTMLElement, opts: Omit<uPlot.Options, "width" | "height">, data: uPlot.AlignedData,
                           { minWidth, height }: { minWidth: number; height: number }):
  { chart: uPlot; dispose: () => void } {
  const width = () => Math.max(minWidth, host.clientWidth);
  const chart = new uPlot({ ...opts, width: width(), height }, data, host);
  const observer = new ResizeObserver(() => chart.setSize({ width: width(), height }));
  observer.observe(host);
  return { chart, dispose: () => { observer.disconnect(); chart.destroy(); } };
}
