/**
 * Drift page: per camera, how far the device model's confidences moved (PSI of the current window against the
 * reference window before it), the share of accepted reviews that corrected the model, and the count error of
 * managers' flags, each against the project's threshold; alerting metrics are badged and listed first. Live on
 * `drift.alert`. Admins tune the policy and may recompute at once.
 */

import { useCallback, useState } from "preact/hooks";
import {
  type CameraDrift, type DriftMetric, type DriftOverview, type DriftPolicy, type DriftPolicyChange, computeDrift, readDrift, readProject,
  updateDriftPolicy,
} from "../../api/endpoints";
import type { MessageOf } from "../../realtime/messages";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";

interface MetricSpec {
  key: DriftMetric;
  label: string;
  threshold: "psi_threshold" | "correction_rate_threshold" | "count_error_threshold";
  format: (value: number) => string;
}

export const METRICS: MetricSpec[] = [
  { key: "psi", label: "Confidence PSI", threshold: "psi_threshold", format: (v) => v.toFixed(3) },
  { key: "correction_rate", label: "Correction rate", threshold: "correction_rate_threshold",
    format: (v) => `${Math.round(v * 100)} %` },
  { key: "count_error", label: "Count error", threshold: "count_error_threshold", format: (v) => v.toFixed(1) },
];
const LABEL = new Map(METRICS.map((m) => [m.key as string, m.label]));
const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "—");

/** Shares of each bin (0 when the histogram is empty), for drawing two windows of different sizes side by side. */
export function shares(counts: number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total ? c / total : 0));
}

type Summary = DriftOverview["summary"];

/** The page's one-line verdict. Unknown is not OK: "no camera is drifting" only when every camera was measured
 * (on at least one metric) and none alerts; cameras without enough data are named as such. */
export function summaryText(s: Summary): string {
  const unknown = s.not_enough_data + s.not_computed;
  const measured = s.ok + s.partial;
  const unknownText = unknown === 1 ? "1 camera has not enough data" : `${unknown} cameras have not enough data`;
  if (s.alerting > 0) {
    return `${s.alerting} of ${s.cameras} cameras alerting.${unknown > 0 ? ` ${unknownText} to tell.` : ""}`;
  }
  if (measured === 0) return "Not enough data: no camera has enough samples yet to tell whether it drifts.";
  if (unknown > 0) return `No drift on the ${measured} of ${s.cameras} cameras measured; ${unknownText} to tell.`;
  return "No camera is drifting.";
}

/** A camera's status cell: alerts, OK (every metric measured), partly measured, or not enough data. */
function StatusCell({ row }: { row: CameraDrift }) {
  const missing = row.unknown_metrics.map((k) => LABEL.get(k) ?? k).join(", ");
  switch (row.status) {
    case "not_computed":
      return <>Not computed yet</>;
    case "not_enough_data":
      return <span class="status-warn">Not enough data</span>;
    case "ok":
      return <span class="status-ok">OK</span>;
    case "partial":
      return <><span class="status-ok">OK so far</span> <small>· not enough data for {missing}</small></>;
    case "alerting":
      return <>{row.alerting.map((a) => (
        <span key={a.metric} class="drift-alert" title={`since ${when(a.since)}`}>
          {LABEL.get(a.metric) ?? a.metric} alert<span class="sr-only"> since {when(a.since)}</span>
        </span>))}</>;
  }
}

/** Cameras with alerting metrics first (most alerting first), then the server's order (site, name). */
export function alertingFirst(rows: CameraDrift[]): CameraDrift[] {
  return rows.map((row, i) => ({ row, i }))
    .sort((a, b) => b.row.alerting.length - a.row.alerting.length || a.i - b.i)
    .map(({ row }) => row);
}

function Histograms({ row, bins }: { row: CameraDrift; bins: number }) {
  const reference = shares(row.histogram_reference);
  const current = shares(row.histogram_current);
  if (reference.length !== bins || current.length !== bins) return <p>No confidence histogram yet.</p>;
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  return (
    <table class="drift-histogram" data-testid={`drift-histogram-${row.camera}`}>
      <caption>Share of box scores per bin: the reference window ({row.boxes_reference} boxes) against the current
        window ({row.boxes_current} boxes)</caption>
      <thead><tr><th scope="col">Score</th><th scope="col">Reference</th><th scope="col">Current</th></tr></thead>
      <tbody>
        {reference.map((r, i) => (
          <tr key={i}>
            <th scope="row">{(i / bins).toFixed(1)}–{((i + 1) / bins).toFixed(1)}</th>
            <td><span class="drift-bar drift-bar-reference" style={{ width: `${(r * 5).toFixed(2)}rem` }} aria-hidden="true" />{pct(r)}</td>
            <td><span class="drift-bar drift-bar-current" style={{ width: `${(current[i]! * 5).toFixed(2)}rem` }} aria-hidden="true" />
              {pct(current[i]!)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MetricCell({ row, metric, policy }: { row: CameraDrift; metric: MetricSpec; policy: DriftPolicy }) {
  const value = row[metric.key];
  const alerting = row.alerting.some((a) => a.metric === metric.key);
  const limit = policy[metric.threshold];
  return (
    <td class={alerting ? "status-bad" : ""} data-testid={`drift-${metric.key}-${row.camera}`}>
      {value === null ? <span title="Too few samples in the window">— <span class="sr-only">not enough data</span></span>
        : metric.format(value)}
      {limit !== undefined && <small> / {metric.format(limit)}</small>}
      {alerting && <span class="sr-only"> (over the threshold)</span>}
    </td>
  );
}

type PolicyField = Exclude<keyof DriftPolicyChange, "enabled">;
const POLICY_FIELDS: { name: PolicyField; label: string; step: string }[] = [
  { name: "psi_threshold", label: "PSI threshold", step: "any" },
  { name: "correction_rate_threshold", label: "Correction rate threshold (0–1)", step: "any" },
  { name: "count_error_threshold", label: "Count error threshold", step: "any" },
  { name: "min_boxes", label: "Minimum box scores per window", step: "1" },
  { name: "min_reviews", label: "Minimum accepted reviews", step: "1" },
  { name: "min_flags", label: "Minimum count flags", step: "1" },
  { name: "current_window_hours", label: "Current window (hours)", step: "1" },
  { name: "reference_window_days", label: "Reference window before it (days)", step: "1" },
];

function PolicyForm({ project, policy, onSaved }: { project: number; policy: DriftPolicy; onSaved: () => void }) {
  const initial = () => Object.fromEntries(POLICY_FIELDS.map((f) => [f.name, String(policy[f.name] ?? "")]));
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [enabled, setEnabled] = useState(policy.enabled ?? true);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    const change: DriftPolicyChange = { enabled };
    for (const f of POLICY_FIELDS) change[f.name] = Number(values[f.name]);
    try {
      await updateDriftPolicy(project, change);
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="card stack" onSubmit={(e) => void submit(e)} data-testid="drift-policy" aria-label="Drift policy">
      <h2>Drift policy</h2>
      <p class="hint">A metric alerts when it reaches its threshold with enough samples in the window; it alerts once,
        and again only after it has recovered. Changes apply at the next computation.</p>
      <label><input type="checkbox" checked={enabled} data-testid="drift-policy-enabled"
                    onChange={(e) => setEnabled(e.currentTarget.checked)} /> Compute drift every 15 minutes</label>
      {POLICY_FIELDS.map((f) => (
        <label key={f.name}>{f.label}
          <input type="number" inputMode="decimal" step={f.step} min="0" required value={values[f.name]}
                 data-testid={`drift-policy-${f.name}`}
                 onInput={(e) => setValues((v) => ({ ...v, [f.name]: e.currentTarget.value }))} /></label>
      ))}
      <div class="row">
        <button type="submit" class="primary" data-testid="drift-policy-save">Save policy</button>
        {saved && <span role="status">Saved.</span>}
      </div>
      <ErrorBanner error={error} testId="drift-policy-error" />
    </form>
  );
}

export function DriftView({ project }: { project: number }) {
  const drift = useAsync(() => readDrift(project), [project]);
  const detail = useAsync(() => readProject(project), [project]);
  const admin = detail.data?.role === "admin";
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const reload = drift.reload;
  const onAlert = useCallback((m: MessageOf<"drift.alert">) => {
    setAnnouncement(`Drift alert on ${m.site_name} / ${m.camera_name}: ${
      m.metrics.map((k) => LABEL.get(k) ?? k).join(", ")}.`);
    reload();
  }, [reload]);
  useProjectMessage("drift.alert", onAlert);

  const recompute = async () => {
    setBusy(true);
    setError(null);
    try {
      await computeDrift(project);
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const data = drift.data;
  const rows = alertingFirst(data?.cameras ?? []);
  return (
    <section class="stack">
      <h1>Drift</h1>
      <p class="hint">Per camera: the shift of the device model's confidences (PSI of the
        last {data?.policy.current_window_hours ?? 24} h against the {data?.policy.reference_window_days ?? 7} days
        before), the share of accepted reviews that corrected it, and the count error of managers' flags.</p>
      <p role="status" aria-live="polite" data-testid="drift-announcement">{announcement}</p>
      <ErrorBanner error={error ?? drift.error} />
      {admin && <div class="row">
        <button type="button" onClick={() => void recompute()} disabled={busy} data-testid="drift-recompute">
          {busy ? "Computing…" : "Recompute now"}</button></div>}
      {data && rows.length === 0 && <p>No cameras yet.</p>}
      {data && rows.length > 0 && (
        <>
          <p data-testid="drift-summary">{summaryText(data.summary)}</p>
          <div class="table-scroll">
            <table data-testid="drift-table">
              <caption class="sr-only">Drift per camera, value / threshold</caption>
              <thead><tr><th scope="col">Camera</th>
                {METRICS.map((m) => <th scope="col" key={m.key}>{m.label}</th>)}
                <th scope="col">Samples</th><th scope="col">Status</th><th scope="col">Computed</th></tr></thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.camera} data-testid={`drift-row-${row.camera}`}>
                    <th scope="row">{row.site_name} / {row.camera_name}
                      <details>
                        <summary>Confidence histograms</summary>
                        <Histograms row={row} bins={data.bins} />
                      </details>
                    </th>
                    {METRICS.map((m) => <MetricCell key={m.key} row={row} metric={m} policy={data.policy} />)}
                    <td><small>{row.boxes_reference} / {row.boxes_current} boxes · {row.reviews} reviews
                      · {row.flags} flags</small></td>
                    <td data-testid={`drift-status-${row.camera}`}>
                      <StatusCell row={row} />
                    </td>
                    <td>{when(row.computed_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {/* Keyed by the saved version: a policy saved elsewhere (or just now) refills the form. */}
      {admin && data && <PolicyForm key={data.policy.updated_at ?? "default"} project={project} policy={data.policy}
                                    onSaved={reload} />}
    </section>
  );
}
