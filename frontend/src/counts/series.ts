/** Camera counts as chart columns: a full bucket grid (empty buckets are 0), one column per count name. Pure. */

import type { Bucket, CameraCounts } from "../api/shapes";

export const BUCKET_SECONDS: Record<Bucket, number> = { "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 };

export interface Columns {
  /** Bucket starts, Unix seconds. */
  x: number[];
  names: string[];
  /** One array per name, aligned with x. */
  values: number[][];
}

export function toColumns(counts: CameraCounts): Columns {
  const step = BUCKET_SECONDS[counts.bucket];
  const starts = counts.series.map((r) => Date.parse(r.start) / 1000);
  const from = Date.parse(counts.from) / 1000;
  const to = Date.parse(counts.to) / 1000;
  // The grid is anchored on a real bucket start when there is one, so buckets line up with the server's.
  const anchor = starts.length > 0 ? Math.min(...starts) : Math.floor(from / step) * step;
  // The first grid bucket is the one that holds `from` (it may start before it).
  const first = anchor - Math.ceil((anchor - from) / step) * step;
  const x: number[] = [];
  for (let t = first; t < to; t += step) x.push(t);
  const names = [...new Set(counts.series.map((r) => r.count_name))].sort();
  const index = new Map(x.map((t, i) => [t, i]));
  const values = names.map(() => x.map(() => 0));
  for (const row of counts.series) {
    const i = index.get(Date.parse(row.start) / 1000);
    const n = names.indexOf(row.count_name);
    if (i !== undefined) values[n]![i] = row.value;
  }
  return { x, names, values };
}

/** A window picked on the chart, widened to whole buckets (UTC-aligned, as the server buckets): the shaded
 * selection then covers exactly the buckets the chart shows, and the server's count of it is their sum. */
export function snapToBuckets(bucket: Bucket, from: number, to: number): [number, number] {
  const step = BUCKET_SECONDS[bucket];
  const start = Math.floor(from / step) * step;
  return [start, Math.max(start + step, Math.ceil(to / step) * step)];
}
