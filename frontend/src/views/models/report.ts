/** Shadow-evaluation reports (activelearning/metrics.py `DetectionReport.as_dict`) as table rows. */

export interface DetectionReport {
  images: number;
  ground_truth: number;
  predictions: number;
  map50: number | null;
  map50_95: number | null;
  precision: number | null;
  recall: number | null;
  count_mae: number;
  count_bias: number;
  slices?: Record<string, Record<string, DetectionReport>>;
  /** The operating point precision, recall and counts were scored at, and where it came from. */
  score_threshold?: number;
  threshold_source?: string;
  display_name?: string;
}

/** Where a model's operating threshold came from, for a person. */
export function thresholdSource(source: string | undefined): string {
  switch (source) {
    case "given": return "set at upload";
    case "champion": return "taken from the champion at upload";
    case "default": return "the default";
    default: return "as recorded";
  }
}

/** What the evaluated frames were, in words (EvaluationSerializer `frames_source`). */
export function framesLabel(source: string, images: number, datasetNumber: number | null | undefined): string {
  const frames = images === 1 ? "1 frame" : `${images} frames`;
  if ((source === "dataset_test" || !source) && datasetNumber != null) return `${frames} of dataset v${datasetNumber}'s test split`;
  if (source === "held_out_no_test_split") return `${frames} held out (no dataset version has a test split yet; none of them was trained on)`;
  return `${frames} held out (no dataset version frozen yet)`;
}

export interface ComparisonRow {
  key: string;
  slice: string;
  value: string;
  images: number;
  candidate: DetectionReport;
  champion: DetectionReport | null;
}

export const METRICS = [
  { key: "map50", label: "mAP@0.5", higherIsBetter: true },
  { key: "map50_95", label: "mAP@0.5:0.95", higherIsBetter: true },
  { key: "precision", label: "Precision", higherIsBetter: true },
  { key: "recall", label: "Recall", higherIsBetter: true },
  { key: "count_mae", label: "Count MAE", higherIsBetter: false },
] as const;

export type MetricKey = (typeof METRICS)[number]["key"];

/** Overall first, then every slice value (site, camera, lighting, crowd), candidate beside champion. */
export function comparisonRows(report: { candidate: DetectionReport; champion?: DetectionReport }): ComparisonRow[] {
  const rows: ComparisonRow[] = [{ key: "all", slice: "All", value: "", images: report.candidate.images,
                                   candidate: report.candidate, champion: report.champion ?? null }];
  for (const [dimension, values] of Object.entries(report.candidate.slices ?? {})) {
    for (const [value, candidate] of Object.entries(values)) {
      rows.push({ key: `${dimension}:${value}`, slice: dimension, value, images: candidate.images, candidate,
                  champion: report.champion?.slices?.[dimension]?.[value] ?? null });
    }
  }
  return rows;
}

/** The candidate's change over the champion on one metric: +better, -worse, 0 same, null if not comparable —
 * also null below `minFrames` frames, where a difference is noise and must not be coloured as a win or loss. */
export function verdict(metric: (typeof METRICS)[number], candidate: DetectionReport,
                        champion: DetectionReport | null, minFrames = 0): number | null {
  const a = candidate[metric.key];
  const b = champion?.[metric.key];
  if (a === null || b === null || b === undefined) return null;
  if (candidate.images < minFrames) return null;
  const delta = a - b;
  if (Math.abs(delta) < 1e-9) return 0;
  return (delta > 0) === metric.higherIsBetter ? 1 : -1;
}

export const fmt = (v: number | null | undefined, digits = 3) => (v === null || v === undefined ? "—" : v.toFixed(digits));
