/**
 * Devices page (admins): each edge device with its site and cameras, when it last called in, its software and
 * model, and the health figures of its last heartbeat. A device silent for more than 10 minutes is marked.
 * Admins register a device (its token is shown once) and revoke one (after a confirmation).
 */

import { useState } from "preact/hooks";
import { type DeviceRow, type IssuedDevice, listDevices, listModels, registerDevice, revokeDevice } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { IssuedToken, RegisterDeviceForm } from "./RegisterDeviceForm";

const STALE_MS = 10 * 60_000;

function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

const gb = (bytes: number | null) => (bytes === null ? "—" : `${(bytes / 1e9).toFixed(1)} GB`);
const num = (v: number | null, unit = "") => (v === null ? "—" : `${v}${unit}`);

function status(device: DeviceRow, now: number): { text: string; cls: string } {
  if (device.revoked) return { text: "revoked", cls: "status-bad" };
  if (!device.last_seen_at) return { text: "never seen", cls: "status-warn" };
  return now - new Date(device.last_seen_at).getTime() > STALE_MS
    ? { text: "silent", cls: "status-warn" } : { text: "online", cls: "status-ok" };
}

export function DevicesView({ project }: { project: number }) {
  const devices = useAsync(() => listDevices(project), [project]);
  // The model a device runs, named as on the models page (by its file's sha256); a file the registry does not
  // hold shows as its short hash.
  const models = useAsync(() => listModels(project), [project]);
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
                <th scope="col">Device</th><th scope="col">Site</th><th scope="col">Cameras</th>
                <th scope="col">Status</th><th scope="col">Last seen</th><th scope="col">Software</th>
                <th scope="col">Model</th><th scope="col">FPS</th><th scope="col">Dropped</th>
                <th scope="col">Outbox</th><th scope="col">Disk free</th><th scope="col">Temp.</th>
                <th scope="col"><span class="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {devices.data.map((d) => {
                const s = status(d, now);
                return (
                  <tr key={d.id} data-testid={`device-${d.id}`}>
                    <th scope="row">{d.name} <small>({d.token_prefix}…)</small></th>
                    <td>{d.site.name}</td>
                    <td>{d.cameras.map((c) => c.name).join(", ") || "—"}</td>
                    <td><span class={s.cls}>{s.text}</span></td>
                    <td>{ago(d.last_seen_at, now)}</td>
                    <td>{d.software_version || "—"}</td>
                    <td data-testid={`device-model-${d.id}`}>{modelNames.get(d.model_sha256 ?? "")
                      ?? <code title={d.model_sha256 || undefined}>{d.model_sha256 ? d.model_sha256.slice(0, 12) : "—"}</code>}</td>
                    <td>{num(d.health.fps)}</td>
                    <td>{num(d.health.dropped_frames)}</td>
                    <td>{num(d.health.outbox_depth)}</td>
                    <td>{gb(d.health.disk_free_bytes)}</td>
                    <td>{num(d.health.temperature_c, " °C")}</td>
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
