/**
 * Devices page (last seen, health, model version). There is no endpoint for people to list a project's
 * devices yet: devices report through POST /api/v1/heartbeat, but nothing reads those reports back.
 *
 * TODO(api): GET /api/v1/projects/{id}/devices → [{id, name, site, cameras, last_seen_at, software_version,
 * model_sha256, model_version, health: {disk_free, temperature, fps, dropped_frames, outbox_depth}, revoked}].
 */

export interface DeviceRow {
  id: number;
  name: string;
  site: string | null;
  last_seen_at: string | null;
  software_version: string;
  model_version: string | null;
  health: Record<string, number | string | null>;
}

export function DevicesView({ project }: { project: number }) {
  return (
    <section class="card" data-testid="devices-unavailable">
      <h1>Devices</h1>
      <p>
        The server does not list devices to people yet (project {project}). This page will show each device's last
        heartbeat, health and model version once <code>GET /api/v1/projects/{"{id}"}/devices</code> exists.
      </p>
    </section>
  );
}
