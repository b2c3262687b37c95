/** Messages the project WebSocket pushes (reviewer/realtime.py MESSAGE_TYPES; shapes from their publishers). */

import type { ItemStatus, QueueStats } from "../api/shapes";

export type ProjectMessage =
  | ({ type: "queue.stats" } & QueueStats)
  // `site`: the item's site. A store manager or bus operator hears only their sites' items (and sees only their
  // sites in queue.stats' pending_by_site); their socket follows a change of their sites at once.
  | { type: "item.leased"; item: number; user: number; site: number | null; status: ItemStatus }
  | { type: "item.released"; item: number; user: number; site: number | null; status: ItemStatus }
  | { type: "item.accepted"; item: number; site: number | null }
  | { type: "flag.created"; flag: number; camera: number; site: number; observed_count: number;
      model_count: number | null }
  | { type: "training.status"; [key: string]: unknown }
  | { type: "drift.alert"; camera: number; camera_name: string; site: number; site_name: string;
      metrics: string[]; alerting: string[]; values: Record<string, number | null> }
  | { type: "model.promoted"; model: number; status: string; sha256: string; rolled_back?: number }
  | { type: "model.alert"; model: number; reason: string; out_of_service: boolean }
  | { type: "export.status"; export: number; dataset: number; status: string; progress?: number }
  // The alert sweep or an admin opened, resolved, acknowledged or silenced alerts: re-read the bell's counts.
  | { type: "alerts.changed" }
  // Admins only: a webhook delivery attempt's outcome.
  | { type: "webhook.delivery"; webhook: number; delivery: number; status: string; attempts: number };

export type MessageType = ProjectMessage["type"];
export type MessageOf<T extends MessageType> = Extract<ProjectMessage, { type: T }>;

const KNOWN: ReadonlySet<string> = new Set<MessageType>([
  "queue.stats", "item.leased", "item.released", "item.accepted", "flag.created", "training.status", "drift.alert",
  "model.promoted", "model.alert", "export.status", "webhook.delivery", "alerts.changed",
]);

/** Parse one frame; unknown types and malformed frames are dropped (a newer server may say more). */
export function parseMessage(text: string): ProjectMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const type = (value as { type?: unknown }).type;
  return typeof type === "string" && KNOWN.has(type) ? (value as ProjectMessage) : null;
}
