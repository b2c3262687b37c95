/**
 * The alerts' plain logic (docs/alerts.md): the bell's number and words, an alert's figures in a sentence, the
 * silence choices and the checks the forms make before the API does, the rules form's parsing.
 */

import type { AlertRow, AlertSummary } from "../../api/endpoints";

/** The window event the bell re-reads its counts on: sent on the `alerts.changed` push and after an action. */
export const ALERTS_CHANGED = "loupe:alerts-changed";

export function announceAlertsChanged(): void {
  window.dispatchEvent(new Event(ALERTS_CHANGED));
}

/** The bell's badge: the open, unsilenced alerts; "99+" past 99; empty for none. */
export function bellBadge(summary: AlertSummary | undefined): string {
  if (!summary || summary.open <= 0) return "";
  return summary.open > 99 ? "99+" : String(summary.open);
}

/** The bell's accessible name. */
export function bellLabel(summary: AlertSummary | undefined): string {
  if (!summary) return "Alerts";
  if (summary.open === 0) return summary.silenced > 0 ? `Alerts: none open, ${summary.silenced} silenced` : "Alerts: none open";
  const critical = summary.by_severity.critical > 0 ? `, ${summary.by_severity.critical} critical` : "";
  return `Alerts: ${summary.open} open${critical}, ${summary.unacknowledged} unacknowledged`;
}

export const SILENCE_CHOICES: readonly { minutes: number; label: string }[] = [
  { minutes: 30, label: "30 minutes" }, { minutes: 60, label: "1 hour" }, { minutes: 240, label: "4 hours" },
  { minutes: 1440, label: "1 day" }, { minutes: 10080, label: "1 week" },
];
export const MAX_SILENCE_MINUTES = 10080;
export const NOTE_LIMIT = 500;

export type SilenceField = "minutes" | "reason";

/** The silence form's refusals before sending (the API checks the same and answers beside the same fields). */
export function checkSilence(minutes: number, reason: string): Partial<Record<SilenceField, string>> {
  const errors: Partial<Record<SilenceField, string>> = {};
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_SILENCE_MINUTES) {
    errors.minutes = `A whole number of minutes from 1 to ${MAX_SILENCE_MINUTES}.`;
  }
  if (!reason.trim()) errors.reason = "Say why it is silenced.";
  else if (reason.length > NOTE_LIMIT) errors.reason = `At most ${NOTE_LIMIT} characters.`;
  return errors;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** What the figures of an alert say, in words ("silent for 42 min", "8 % disk free"). */
export function describeFigures(kind: string, figures: unknown): string {
  const f = (typeof figures === "object" && figures !== null ? figures : {}) as Record<string, unknown>;
  const round = (v: number, digits = 2) => String(Number(v.toFixed(digits)));
  switch (kind) {
    case "no_heartbeat": {
      const minutes = num(f.minutes_silent);
      return minutes === null ? "no heartbeat" : `silent for ${Math.round(minutes)} min`;
    }
    case "camera_offline": {
      const age = num(f.last_frame_age_seconds);
      const status = typeof f.status === "string" ? f.status : "stale";
      return age === null ? `reported ${status}` : `reported ${status}, last frame ${Math.round(age / 60)} min ago`;
    }
    case "watchdog_fired":
      return `${num(f.restarts) ?? "?"} watchdog restart(s) in the window`;
    case "inference_behind":
      return `inference ${round(num(f.inference_fps) ?? 0, 1)} fps of ${round(num(f.fps) ?? 0, 1)} fps`;
    case "disk_nearly_full":
      return `${round(num(f.free_percent) ?? 0, 1)} % disk free`;
    case "outbox_backlog":
      return `oldest undelivered event ${Math.round((num(f.outbox_oldest_age_seconds) ?? 0) / 60)} min old`;
    case "drift_psi_camera":
    case "drift_psi_site":
      return `PSI ${round(num(f.psi) ?? 0, 3)} (threshold ${num(f.threshold) ?? "?"})`;
    case "drift_correction_rate":
      return `${Math.round((num(f.correction_rate) ?? 0) * 100)} % of reviews corrected`;
    case "drift_count_error":
      return `count error ${round(num(f.count_error) ?? 0, 1)}`;
    case "rollout_halted":
      return "a gate failed; devices went back to the champion";
    default:
      return "";
  }
}

/** The alert's state in a word, for its badge. */
export function alertState(alert: Pick<AlertRow, "resolved_at" | "silenced" | "acknowledged_at">): string {
  if (alert.resolved_at) return "resolved";
  if (alert.silenced) return "silenced";
  return alert.acknowledged_at ? "acknowledged" : "open";
}

export interface ParamSpec { name: string; min: number; max: number; integer: boolean }

/** The rules form's inputs as numbers, with a message per input out of its bounds (none: send it). */
export function parseParams(specs: readonly ParamSpec[], inputs: Record<string, string>):
  { params: Record<string, number>; errors: Record<string, string> } {
  const params: Record<string, number> = {};
  const errors: Record<string, string> = {};
  for (const spec of specs) {
    const text = (inputs[spec.name] ?? "").trim();
    const value = Number(text);
    if (text === "" || !Number.isFinite(value)) errors[spec.name] = "A number is expected.";
    else if (spec.integer && !Number.isInteger(value)) errors[spec.name] = "A whole number is expected.";
    else if (value < spec.min || value > spec.max) errors[spec.name] = `Between ${spec.min} and ${spec.max}.`;
    else params[spec.name] = value;
  }
  return { params, errors };
}
