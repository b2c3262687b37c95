/** Pure helpers for the device health views: connectivity from the last heartbeat, camera status read from the
 * heartbeat's JSON, percentages and units, the range picker's ranges, and an SVG sparkline's path. */

/** A device heartbeats every minute by default (edge --heartbeat-every 60): three missed is stale, fifteen
 * minutes of silence is offline. */
export const STALE_AFTER_S = 3 * 60;
export const OFFLINE_AFTER_S = 15 * 60;

export type Connectivity = "online" | "stale" | "offline" | "never";

export function connectivity(lastSeen: string | null | undefined, nowMs: number): Connectivity {
  if (!lastSeen) return "never";
  const silentS = (nowMs - new Date(lastSeen).getTime()) / 1000;
  if (silentS <= STALE_AFTER_S) return "online";
  return silentS <= OFFLINE_AFTER_S ? "stale" : "offline";
}

export const CONNECTIVITY_CLASS: Record<Connectivity, string> = {
  online: "status-ok", stale: "status-warn", offline: "status-bad", never: "status-warn",
};

export type CameraState = "ok" | "degraded" | "offline" | "error" | "unknown";

export interface CameraStatus {
  state: CameraState;
  fps: number | null;
  inferenceFps: number | null;
  lastFrameAgeS: number | null;
  droppedFrames: number | null;
  message: string;
}

const STATES: readonly string[] = ["ok", "degraded", "offline", "error"];
const numberOrNull = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** A camera's last reported status (Camera.status JSON, or a bare string from older devices). */
export function cameraStatus(raw: unknown): CameraStatus {
  const obj = (typeof raw === "object" && raw !== null ? raw : { status: raw }) as Record<string, unknown>;
  const state = typeof obj.status === "string" && STATES.includes(obj.status) ? obj.status as CameraState : "unknown";
  return {
    state, fps: numberOrNull(obj.fps), inferenceFps: numberOrNull(obj.inference_fps),
    lastFrameAgeS: numberOrNull(obj.last_frame_age_seconds), droppedFrames: numberOrNull(obj.dropped_frames),
    message: typeof obj.message === "string" ? obj.message : "",
  };
}

/** Whole percent of `part` in `total`, or null when either is unknown (or the total is 0). */
export function percent(part: number | null | undefined, total: number | null | undefined): number | null {
  if (part == null || total == null || total <= 0) return null;
  return Math.round((part / total) * 100);
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null) return "—";
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(0)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
}

export function formatSeconds(s: number | null | undefined): string {
  if (s == null) return "—";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Decimals that tell apart ticks `step` apart (0.05 → 2, 0.5 → 1, 5 → 0), at most 3. */
export function tickDecimals(step: number): number {
  if (!(step > 0)) return 0;
  return Math.min(3, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

export type RangeName = "1h" | "24h" | "7d";
export const RANGES: Record<RangeName, { label: string; seconds: number }> = {
  "1h": { label: "1 hour", seconds: 3600 }, "24h": { label: "24 hours", seconds: 86_400 },
  "7d": { label: "7 days", seconds: 7 * 86_400 },
};

/** The query for a range ending now (the server picks the bucket: at most 500 per range). */
export function rangeQuery(range: RangeName, nowMs: number): { since: string; until: string } {
  const until = new Date(nowMs);
  return { since: new Date(nowMs - RANGES[range].seconds * 1000).toISOString(), until: until.toISOString() };
}

/** How many entries of a series hold a value (a bucket with no sample is null). */
export function pointCount(values: readonly (number | null)[]): number {
  return values.filter((v) => v !== null).length;
}

/** The bucket starts at which a counter went up (watchdog restarts, crashes): the marks on the charts. */
export function increasesAt(t: readonly number[], increases: readonly (number | null)[]): number[] {
  return t.filter((_, i) => (increases[i] ?? 0) > 0);
}

/** An SVG path for a sparkline in a `width`×`height` box, y scaled to [min, max] of the values (or [0, 1] of a
 * flat line); nulls break the line. Shared scale across series when `domain` is given. */
export function sparklinePath(values: readonly (number | null)[], width: number, height: number,
                              domain?: [number, number]): string {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return "";
  const [lo, hi] = domain ?? [Math.min(...present), Math.max(...present)];
  const span = hi - lo || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  let path = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) { pen = false; return; }
    const x = values.length > 1 ? i * step : width / 2;
    const y = height - 1 - ((v - lo) / span) * (height - 2);
    path += `${pen ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    // A lone sample (its neighbours null) still shows: a round-capped stub of a dot.
    if (!pen && (i === values.length - 1 || values[i + 1] === null)) path += "h0.1";
    pen = true;
  });
  return path;
}

/** The last value a series holds (a sparkline's figure in words), or null. */
export function lastValue(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i]!;
  return null;
}
