/** A small inline-SVG line chart for the devices table: one or two series on a shared scale, the last value in
 * words beside it (the figure a screen reader hears). */

import { lastValue, pointCount, sparklinePath } from "./health";

export interface SparkSeries {
  label: string;
  values: (number | null)[];
  color: string;
}

const W = 96;
const H = 24;

export function Sparkline({ testId, label, series, unit }: { testId: string; label: string; series: SparkSeries[]; unit: string }) {
  const present = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const domain: [number, number] | undefined = present.length ? [Math.min(0, ...present), Math.max(...present)] : undefined;
  const latest = series.map((s) => {
    const v = lastValue(s.values);
    return `${s.label} ${v === null ? "—" : `${Math.round(v * 10) / 10}${unit}`}`;
  }).join(", ");
  if (!domain) return <span class="muted" data-testid={testId} data-points="0">no data</span>;
  return (
    <span class="sparkline" data-testid={testId} data-points={series.map((s) => pointCount(s.values)).join(",")}>
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${label}, last 24 hours: ${latest}`}>
        {series.map((s) => (
          <path key={s.label} d={sparklinePath(s.values, W, H, domain)} fill="none" stroke={s.color} stroke-width={1.5}
                stroke-linecap="round" stroke-linejoin="round" />
        ))}
      </svg>
      <small aria-hidden="true">{latest}</small>
    </span>
  );
}
