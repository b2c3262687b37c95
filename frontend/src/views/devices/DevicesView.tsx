/**
 * Devices page (admins): each edge device with its site and cameras, when it last called in, its software and
 * model, and the health figures of its last heartbeat. A device silent for more than 10 minutes is marked.
 */

import { type DeviceRow, listDevices } from "../../api/endpoints";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";

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
  const now = Date.now();
  return (
    <section class="card stack">
      <h1>Devices</h1>
      <ErrorBanner error={devices.error} />
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
                    <td><code title={d.model_sha256 || undefined}>{d.model_sha256 ? d.model_sha256.slice(0, 12) : "—"}</code></td>
                    <td>{num(d.health.fps)}</td>
                    <td>{num(d.health.dropped_frames)}</td>
                    <td>{num(d.health.outbox_depth)}</td>
                    <td>{gb(d.health.disk_free_bytes)}</td>
                    <td>{num(d.health.temperature_c, " °C")}</td>
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
