/** The numbers report (docs/counts-api.md) for the Numbers page: its query string, chart columns and the words
 * for error figures. Pure. */

import type { components } from "../api/schema";

export type CountRow = components["schemas"]["CountRow"];
export type CountSummary = components["schemas"]["CountSummary"];
export type NumbersBucket = CountRow["bucket"];

/** The filters the page, its API calls and its CSV link share. Dates are ISO 8601 with an offset. */
export interface NumbersFilters {
  from: string;
  to: string;
  bucket: NumbersBucket;
  site: number | null;
  camera: number | null;
  correctedOnly: boolean;
}

/** The API's query parameters for `filters` (absent filters left out), as a plain record. */
export function numbersQuery(filters: NumbersFilters): Record<string, string> {
  const query: Record<string, string> = { from: filters.from, to: filters.to, bucket: filters.bucket };
  if (filters.site !== null) query.site = String(filters.site);
  if (filters.camera !== null) query.camera = String(filters.camera);
  if (filters.correctedOnly) query.corrected_only = "true";
  return query;
}

/** The "Download CSV" address: the same filters, every page (the server streams them). */
export function csvUrl(project: number, filters: NumbersFilters): string {
  const query = new URLSearchParams({ ...numbersQuery(filters), format: "csv" });
  return `/api/v1/projects/${project}/counts?${query.toString()}`;
}

export interface NumbersColumns {
  /** Bucket starts, Unix seconds, ascending. */
  x: number[];
  /** The model's count of the whole bucket, all its models. */
  model: number[];
  /** Over the bucket's corrected windows only: the model's count and the corrected count (null: none). */
  modelCorrected: (number | null)[];
  corrected: (number | null)[];
  /** Where the bucket's main model (the one that counted most) differs from the previous bucket's. */
  modelChanges: { at: number; name: string }[];
}

/** One camera's rows (any order, one per bucket and model) as chart columns, one point per bucket. */
export function toNumbersColumns(rows: readonly CountRow[]): NumbersColumns {
  const buckets = new Map<number, CountRow[]>();
  for (const row of rows) {
    const at = Date.parse(row.bucket_start) / 1000;
    buckets.set(at, [...(buckets.get(at) ?? []), row]);
  }
  const x = [...buckets.keys()].sort((a, b) => a - b);
  const columns: NumbersColumns = { x, model: [], modelCorrected: [], corrected: [], modelChanges: [] };
  let previous: string | null = null;
  for (const at of x) {
    const inBucket = buckets.get(at)!;
    const corrected = inBucket.filter((r) => r.corrected_windows > 0);
    columns.model.push(inBucket.reduce((sum, r) => sum + r.model_count, 0));
    columns.modelCorrected.push(corrected.length ? corrected.reduce((s, r) => s + (r.corrected_model_count ?? 0), 0) : null);
    columns.corrected.push(corrected.length ? corrected.reduce((s, r) => s + (r.corrected_count ?? 0), 0) : null);
    const main = inBucket.reduce((best, r) => (r.model_count > best.model_count ? r : best));
    if (previous !== null && main.model_sha256 !== previous) columns.modelChanges.push({ at, name: main.model_name });
    previous = main.model_sha256;
  }
  return columns;
}

/** 0.142857 → "14.3%"; null (nothing corrected) → "–". */
export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

/** The trend as an arrow and words: the error going up is bad news, so "worse" points up. */
export function trendText(direction: CountSummary["trend"]["direction"]): { arrow: string; words: string } {
  if (direction === "worse") return { arrow: "↑", words: "error rising" };
  if (direction === "better") return { arrow: "↓", words: "error falling" };
  if (direction === "flat") return { arrow: "→", words: "error steady" };
  return { arrow: "·", words: "too few corrections to tell" };
}

/** Whole UTC days from the page's date inputs ("2026-11-01" … "2026-11-30", both included) as the API's
 * half-open window; null when either is empty or the end is before the start. */
export function dayWindow(fromDay: string, toDay: string): { from: string; to: string } | null {
  const start = Date.parse(`${fromDay}T00:00:00Z`);
  const end = Date.parse(`${toDay}T00:00:00Z`);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return null;
  return { from: new Date(start).toISOString(), to: new Date(end + 86_400_000).toISOString() };
}

/** The UTC day `days` before the day of `now`, as a date input's value. */
export function dayBefore(now: number, days: number): string {
  return new Date(now - days * 86_400_000).toISOString().slice(0, 10);
}
