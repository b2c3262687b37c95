/**
 * Devices page (admins): each edge device with its site and cameras (each camera's status as a chip; an offline
 * one stands out), whether it is online (from its last heartbeat: stale after 3 min, offline after 15), sparklines
 * of the last 24 hours (inference p95, camera fps vs inference fps, outbox backlog), disk and memory use and its
 * watchdog restarts; its name opens its health over time.
 * Admins register a device (its token is shown once) and revoke one (after a confirmation).
 */

import { useState } from "preact/hooks";
import {
  type DeviceRow, type IssuedDevice, type TelemetrySummary, getTelemetrySummary, listDevices, listModels, registerDevice,
  revokeDevice,
} from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { href } from "../../router";
import { CONNECTIVITY_CLASS, cameraStatus, connectivity, formatBytes, percent } from "./health";
import { IssuedToken, RegisterDeviceForm } from "./RegisterDeviceForm";
import { Sparkline } from "./Sparkline";

function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

const num = (v: number | null | undefined, unit = "") => (v == null ? "—" : `${v}${unit}`);

function status(device: DeviceRow, now: number): { text: string; cls: string } {
  if (device.revoked) return { text: "revoked", cls: "status-bad" };
  const state = connectivity(device.last_seen_at, now);
  return { text: state === "never" ? "never seen" : state, cls: CONNECTIVITY_CLASS[state] };
}

/** "42 %" of a figure in its total, flagged past 90 % (a full disk stops the outbox, full memory kills inference). */
function Usage({ part, total, testId, label }: { part: number | null | undefined; total: number | null | undefined;
                                                  testId: string; label: string }) {
  const p = percent(part, total);
  if (p === null) return <span data-testid={testId}>—</span>;
  return <span data-testid={testId} class={p >= 90 ? "status-bad" : undefined} title={label}>{p} %</span>;
}

type Sparks = TelemetrySummary["devices"][number];

function CameraChips({ device }: { device: DeviceRow }) {
  if (device.cameras.length === 0) return <>—</>;
  return (
    <ul class="camera-chips">
      {device.cameras.map((c) => {
        const cs = cameraStatus(c.status);
        return (
          <li key={c.id} class={`camera-chip camera-${cs.state}`} data-testid={`camera-chip-${c.id}`}
              title={cs.message || undefined}>{c.name}: {cs.state}</li>
        );
      })}
    </ul>
  );
}

export function DevicesView({ project }: { project: number }) {
  const devices = useAsync(() => listDevices(project), [project]);
  // The model a device runs, named as on the models page (by its file's sha256); a file the registry does not
  // hold shows as its short hash.
  const models = useAsync(() => listModels(project), [project]);
  // Sparklines are a nicety: the table shows without them if they fail.
  const summary = useAsync(() => getTelemetrySummary(project, 24), [project]);
  const sparks = new Map<number, Sparks>((summary.data?.devices ?? []).map((d) => [d.device, d]));
  const modelNames = new Map((models.data ?? []).map((m) => [m.sha256, m.display_name]));
  const [issued, setIssued] = useState<IssuedDevice | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const now = Date.now();

  const revoke = async (device: DeviceRow) => {
    if (!window.confirm(`Revoke ${device.name}? Its token stops working at once: the device can no longer send `
                        + "events or heartbeats until it is registered again.")) return;
    setError(null);
    try {
      await revokeDevice(device.id);
      setNotice(`Revoked ${device.name}.`);
      devices.reload();
    } catch (err) {
      setError(err);
    }
  };

  // The app's guard keeps other roles out; should the API still refuse (a role changed meanwhile), say so and
  // render no form under the refusal.
  if (devices.error instanceof ApiError && devices.error.status === 403) {
    return (
      <section class="card stack" data-testid="not-for-role">
        <h1>Not available for your role</h1>
        <p>Only project admins see and register devices.</p>
      </section>
    );
  }

  return (
    <section class="card stack">
      <h1>Devices</h1>
      <ErrorBanner error={devices.error ?? error} />
      <p role="status" class="notice" data-testid="devices-notice">{notice}</p>
      {issued ? <IssuedToken issued={issued} origin={window.location.origin} onDone={() => setIssued(null)} />
        : <RegisterDeviceForm onRegister={async (body) => {
          const answer = await registerDevice(project, body);
          setIssued(answer);
          setNotice(`Registered ${answer.device.name}.`);
          devices.reload();
        }} />}
      {devices.loading && !devices.data && <p>Loading…</p>}
      {devices.data && devices.data.length === 0 && <p>No devices are registered in this project.</p>}
      {devices.data && devices.data.length > 0 && (
        <div class="table-scroll">
          <table data-testid="device-list">
            <caption class="sr-only">Devices and their last heartbeat</caption>
            <thead>
              <tr>
                <th scope="col">Device</th><th scope="col">Site</th><th scope="col">Status</th>
                <th scope="col">Cameras</th><th scope="col">Inference p95</th><th scope="col">fps vs inference</th>
                <th scope="col">Outbox</th><th scope="col">Disk</th><th scope="col">Memory</th>
                <th scope="col">Watchdog</th><th scope="col">Temp.</th><th scope="col">Software</th>
                <th scope="col">Model</th>
                <th scope="col"><span class="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {devices.data.map((d) => {
                const s = status(d, now);
                const spark = sparks.get(d.id);
                return (
                  <tr key={d.id} data-testid={`device-${d.id}`}>
                    <th scope="row"><a href={href.device(project, d.id)} data-testid={`device-link-${d.id}`}>{d.name}</a>
                      {" "}<small>({d.token_prefix}…)</small></th>
                    <td>{d.site.name}</td>
                    <td><span class={s.cls} data-testid={`device-status-${d.id}`}>{s.text}</span>
                      {d.last_seen_at && <><br /><small>{ago(d.last_seen_at, now)}</small></>}</td>
                    <td><CameraChips device={d} /></td>
                    <td>{spark ? <Sparkline testId={`spark-p95-${d.id}`} label="Inference p95" unit=" ms"
                                            series={[{ label: "p95", values: spark.inference_ms_p95, color: "#ffcf5c" }]} /> : "—"}</td>
                    <td>{spark ? <Sparkline testId={`spark-fps-${d.id}`} label="Camera fps vs inference fps" unit=""
                                            series={[{ label: "camera", values: spark.fps, color: "#5fd68a" },
                                                     { label: "inference", values: spark.inference_fps, color: "#c58cff" }]} /> : "—"}</td>
                    <td>{spark ? <Sparkline testId={`spark-outbox-${d.id}`} label="Outbox backlog" unit=""
                                            series={[{ label: "depth", values: spark.outbox_depth, color: "#4db3ff" }]} />
                      : num(d.health.outbox_depth)}</td>
                    <td><Usage part={d.health.disk_total_bytes != null && d.health.disk_free_bytes != null
                      ? d.health.disk_total_bytes - d.health.disk_free_bytes : null} total={d.health.disk_total_bytes}
                               testId={`device-disk-${d.id}`} label="Disk used" />
                      {d.health.disk_free_bytes != null && <><br /><small>{formatBytes(d.health.disk_free_bytes)} free</small></>}</td>
                    <td><Usage part={d.health.memory_used_bytes} total={d.health.memory_total_bytes}
                               testId={`device-memory-${d.id}`} label="Memory used" /></td>
                    <td data-testid={`device-watchdog-${d.id}`}
                        class={(d.health.watchdog_restarts ?? 0) > 0 ? "status-warn" : undefined}>{num(d.health.watchdog_restarts)}</td>
                    <td>{num(d.health.temperature_c, " °C")}</td>
                    <td>{d.software_version || "—"}</td>
                    <td data-testid={`device-model-${d.id}`}>{modelNames.get(d.model_sha256 ?? "")
                      ?? <code title={d.model_sha256 || undefined}>{d.model_sha256 ? d.model_sha256.slice(0, 12) : "—"}</code>}</td>
                    <td>{!d.revoked && (
                      <button type="button" data-testid={`device-revoke-${d.id}`} aria-label={`Revoke ${d.name}`}
                              onClick={() => void revoke(d)}>Revoke…</button>
                    )}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
