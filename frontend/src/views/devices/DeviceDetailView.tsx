/**
 * A device's health over time (admins): its current figures and cameras, and charts of the last hour, day or
 * week (buckets from the server: latency, fps vs inference fps, dropped frames, the outbox, memory, disk,
 * temperature), with the watchdog restarts marked on every chart.
 */

import { useMemo, useState } from "preact/hooks";
import { type DeviceTelemetry, getDeviceTelemetry } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { type ChartSeries, HealthChart } from "./HealthChart";
import {
  CONNECTIVITY_CLASS, RANGES, type RangeName, cameraStatus, connectivity, formatBytes, formatSeconds, increasesAt,
  rangeQuery, tickDecimals,
} from "./health";

type Series = DeviceTelemetry["series"];

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  rightUnit?: string;
  series: ChartSeries[];
  format?: (v: number, step: number) => string;
}

const gigabytes = (v: number, step: number) => `${(v / 1e9).toFixed(tickDecimals(step / 1e9))} GB`;

function chartSpecs(s: Series): ChartSpec[] {
  return [
    { id: "latency", title: "Inference latency", unit: "ms", series: [
      { label: "p50", values: s.inference_ms_p50, color: "#4db3ff" },
      { label: "p95", values: s.inference_ms_p95, color: "#ffcf5c" }] },
    { id: "fps", title: "Camera fps vs inference fps", unit: "fps", series: [
      { label: "camera fps", values: s.fps, color: "#5fd68a" },
      { label: "inference fps", values: s.inference_fps, color: "#c58cff", dash: [6, 3] }] },
    { id: "dropped", title: "Dropped frames (per bucket)", unit: "frames", series: [
      { label: "dropped", values: s.dropped_frames, color: "#ff9f5c" }] },
    { id: "outbox", title: "Outbox backlog", unit: "events", rightUnit: "oldest (s)", series: [
      { label: "depth", values: s.outbox_depth, color: "#4db3ff" },
      { label: "oldest age (s)", values: s.outbox_oldest_age_seconds, color: "#ffcf5c", axis: "right", dash: [6, 3] }] },
    { id: "memory", title: "Memory used", unit: "", format: gigabytes, series: [
      { label: "memory used", values: s.memory_used_bytes, color: "#c58cff" }] },
    { id: "disk", title: "Disk free", unit: "", format: gigabytes, series: [
      { label: "disk free", values: s.disk_free_bytes, color: "#5fd68a" }] },
    { id: "temperature", title: "Temperature", unit: "°C", series: [
      { label: "temperature", values: s.temperature_c, color: "#ff6b6b" }] },
  ];
}

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return <div class="health-figure"><dt>{label}</dt><dd data-testid={testId}>{value}</dd></div>;
}

export function DeviceDetailView({ project, device }: { project: number; device: number }) {
  const [range, setRange] = useState<RangeName>("24h");
  const telemetry = useAsync(() => getDeviceTelemetry(project, device, rangeQuery(range, Date.now())),
                             [project, device, range]);
  const data = telemetry.data;
  const specs = useMemo(() => (data ? chartSpecs(data.series) : []), [data]);
  const marks = useMemo(() => (data ? increasesAt(data.series.t, data.series.watchdog_restarts) : []), [data]);

  if (telemetry.error instanceof ApiError && telemetry.error.status === 404) {
    return (
      <section class="card stack">
        <h1>Device not found</h1>
        <p><a href={href.devices(project)}>Back to the devices</a></p>
      </section>
    );
  }
  const d = data?.device;
  const nowMs = data ? new Date(data.now).getTime() : Date.now();
  const state = connectivity(d?.last_seen_at, nowMs);
  const restarts = data ? data.series.watchdog_restarts.reduce<number>((sum, v) => sum + (v ?? 0), 0) : 0;

  return (
    <section class="card stack" data-testid="device-detail">
      <p><a href={href.devices(project)}>← Devices</a></p>
      <h1>{d ? d.name : "Device"} {d && <span class={`device-state ${CONNECTIVITY_CLASS[state]}`}
                                             data-testid="device-state">{state}</span>}</h1>
      <ErrorBanner error={telemetry.error} />
      {d && (
        <dl class="health-figures">
          <Figure label="Site" value={d.site.name} testId="detail-site" />
          <Figure label="Software" value={d.software_version || "—"} testId="detail-software" />
          <Figure label="Inference p95" value={d.health.inference_ms_p95 == null ? "—" : `${d.health.inference_ms_p95} ms`}
                  testId="detail-p95" />
          <Figure label="Memory" value={`${formatBytes(d.health.memory_used_bytes)} of ${formatBytes(d.health.memory_total_bytes)}`}
                  testId="detail-memory" />
          <Figure label="Disk free" value={`${formatBytes(d.health.disk_free_bytes)} of ${formatBytes(d.health.disk_total_bytes)}`}
                  testId="detail-disk" />
          <Figure label="Watchdog restarts (total)" value={String(d.health.watchdog_restarts ?? "—")}
                  testId="detail-watchdog" />
          <Figure label="Crashes (total)" value={String(d.health.crashes ?? "—")} testId="detail-crashes" />
        </dl>
      )}

      {d && (
        <div class="table-scroll">
          <table class="health-table" data-testid="camera-table">
            <caption>Cameras</caption>
            <thead><tr><th scope="col">Camera</th><th scope="col">Status</th><th scope="col">fps</th>
              <th scope="col">Inference fps</th><th scope="col">Last frame</th><th scope="col">Message</th></tr></thead>
            <tbody>
              {d.cameras.map((c) => {
                const cs = cameraStatus(c.status);
                return (
                  <tr key={c.id} data-testid={`camera-row-${c.id}`}>
                    <th scope="row">{c.name}</th>
                    <td><span class={`camera-chip camera-${cs.state}`}>{cs.state}</span></td>
                    <td>{cs.fps ?? "—"}</td>
                    <td>{cs.inferenceFps ?? "—"}</td>
                    <td>{cs.lastFrameAgeS === null ? "—" : `${formatSeconds(cs.lastFrameAgeS)} ago`}</td>
                    <td>{cs.message || "—"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      <div class="range-picker" role="group" aria-label="Time range">
        {(Object.keys(RANGES) as RangeName[]).map((name) => (
          <button key={name} type="button" aria-pressed={range === name} data-testid={`range-${name}`}
                  onClick={() => setRange(name)}>{RANGES[name].label}</button>
        ))}
      </div>
      {telemetry.loading && <p role="status">Loading…</p>}
      {data && (
        <p class="hint" data-testid="telemetry-summary">
          {data.sample_count} samples, in {data.series.t.length} buckets of {formatSeconds(data.bucket_seconds)}
          {restarts > 0 ? `; ${restarts} watchdog restart${restarts === 1 ? "" : "s"} (red dashed marks)` : "; no watchdog restarts"}.
        </p>
      )}
      {data && (
        <div class="health-charts">
          {specs.map((spec) => (
            <HealthChart key={`${spec.id}-${data.since}`} id={spec.id} title={spec.title} unit={spec.unit}
                         rightUnit={spec.rightUnit} t={data.series.t} series={spec.series} marks={marks}
                         format={spec.format} />
          ))}
        </div>
      )}
    </section>
  );
}
