/** uPlot chart of a camera's counts; dragging across it selects a flag window (widened to whole buckets), and
 * the camera's flagged windows are shaded with their outcome. */

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { DARK_AXIS, mountChart } from "../../ui/chart";
import type { Bucket } from "../../api/shapes";
import { type Columns, snapToBuckets } from "../../counts/series";
import "../flags/flags.css";

const COLORS = ["#00a3e0", "#e07b00", "#7a5cff", "#1a9e50", "#d6336c"];

/** A flagged window to shade: Unix seconds, and the words that say what it is and how it ended. */
export interface FlagBand {
  id: number;
  from: number;
  to: number;
  reviewed: boolean;
  label: string;
}

/** Place one absolutely positioned element per band inside uPlot's overlay (text only: no markup from data). */
function paintBands(u: uPlot, bands: readonly FlagBand[]) {
  u.over.querySelectorAll(".flag-band").forEach((el) => el.remove());
  const min = u.scales.x?.min ?? 0;
  const max = u.scales.x?.max ?? 0;
  for (const band of bands) {
    if (band.to <= min || band.from >= max) continue;
    const left = u.valToPos(Math.max(band.from, min), "x");
    const right = u.valToPos(Math.min(band.to, max), "x");
    const el = document.createElement("div");
    el.className = `flag-band ${band.reviewed ? "flag-band-reviewed" : "flag-band-open"}`;
    el.dataset.testid = `flag-band-${band.id}`;
    el.style.left = `${left}px`;
    el.style.width = `${Math.max(2, right - left)}px`;
    el.title = band.label;
    const text = document.createElement("span");
    text.textContent = band.label;
    el.append(text);
    u.over.append(el);
  }
}

interface Props {
  columns: Columns;
  bucket: Bucket;
  bands: readonly FlagBand[];
  onSelect: (from: number, to: number) => void;
}

export function CountsChart({ columns, bucket, bands, onSelect }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const select = useRef(onSelect);
  select.current = onSelect;
  const shaded = useRef(bands);
  shaded.current = bands;

  useEffect(() => {
    const el = host.current!;
    const opts: Omit<uPlot.Options, "width" | "height"> = {
      scales: { x: { time: true } },
      series: [{}, ...columns.names.map((name, i) => ({
        label: name, stroke: COLORS[i % COLORS.length]!, width: 2, points: { show: false },
      }))],
      axes: [DARK_AXIS, DARK_AXIS],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(u: uPlot) => {
          if (u.select.width <= 0) return;
          const [from, to] = snapToBuckets(bucket, u.posToVal(u.select.left, "x"),
                                           u.posToVal(u.select.left + u.select.width, "x"));
          // Show the window that will be flagged: whole buckets, the ones the chart draws.
          const left = u.valToPos(from, "x");
          u.setSelect({ left, width: u.valToPos(to, "x") - left, top: 0, height: u.over.clientHeight }, false);
          select.current(from, to);
        }],
        draw: [(u: uPlot) => paintBands(u, shaded.current)],
      },
    };
    const mounted = mountChart(el, opts, [columns.x, ...columns.values], { minWidth: 320, height: 300 });
    chart.current = mounted.chart;
    return () => { mounted.dispose(); chart.current = null; };
  }, [columns, bucket]);

  useEffect(() => { if (chart.current) paintBands(chart.current, bands); }, [bands]);

  return <div ref={host} class="chart" data-testid="counts-chart" role="img"
              aria-label={`Counts over time: ${columns.names.join(", ") || "no counts in this range"}`} />;
}
