/**
 * The webhook form's plain logic: the events an admin can subscribe to (the schema's WebhookEventEnum, with words
 * for people), the API's refusals turned into sentences beside the field they concern, and a strong secret.
 */

import type { WebhookEvent } from "../../api/endpoints";
import { ApiError, describeError } from "../../api/errors";

/** Every event of the schema's enum, in the order the form shows them. */
export const WEBHOOK_EVENTS: readonly { value: WebhookEvent; label: string; hint: string }[] = [
  { value: "item.accepted", label: "Item accepted", hint: "a reviewer accepted an annotation" },
  { value: "threshold.reached", label: "Threshold reached", hint: "enough accepted items to retrain" },
  { value: "training.finished", label: "Training finished", hint: "a training run ended, well or not" },
  { value: "model.promoted", label: "Model promoted", hint: "a new champion, or a rollback" },
  { value: "drift.alert", label: "Drift alert", hint: "the input data moved away from the training data" },
];

// Compile-time check: a new event in the schema's enum fails `tsc` until it is listed above.
type Missing = Exclude<WebhookEvent, (typeof WEBHOOK_EVENTS)[number]["value"]>;
const everyEventListed: [Missing] extends [never] ? true : Missing = true;
void everyEventListed;

export const MIN_SECRET_LENGTH = 32; // activelearning/webhooks.py MIN_SECRET_LENGTH

export type Field = "url" | "events" | "secret";

/** Messages for the fields they concern; `form` for what concerns none of them. */
export type FieldErrors = Partial<Record<Field | "form", string>>;

const ALLOW_LIST_HELP = "Loupe only sends webhooks to hosts your operator has allowed (the server setting "
  + "LOUPE_OUTBOUND_ALLOWED_HOSTS). Use one of those hosts, or ask the operator to add this one.";

function byCode(error: ApiError): FieldErrors | null {
  const host = typeof error.details.host === "string" ? error.details.host : null;
  switch (error.code) {
    case "invalid_url":
      return { url: "Enter a full web address starting with https:// (or http://), for example "
                    + "https://hooks.example.com/loupe." };
    case "url_not_allowed":
      return { url: host ? `Loupe may not send to ${host}. ${ALLOW_LIST_HELP}` : `Loupe may not send to this address. ${ALLOW_LIST_HELP}` };
    case "no_events":
      return { events: "Choose at least one event to send." };
    case "unknown_event": {
      const unknown = Array.isArray(error.details.unknown) ? error.details.unknown.join(", ") : "";
      return { events: `The server does not know ${unknown ? `these events: ${unknown}` : "one of these events"}. `
                       + "Reload the page to get the current list." };
    }
    case "secret_too_short":
      return { secret: `The secret must be at least ${MIN_SECRET_LENGTH} characters. Press “Generate” for a strong one.` };
    default:
      return null;
  }
}

/** The shape errors of a 400 `invalid` (`details` maps a field to its messages). */
function byField(error: ApiError): FieldErrors | null {
  if (error.code !== "invalid") return null;
  const found: FieldErrors = {};
  for (const field of ["url", "events", "secret"] as const) {
    const value = error.details[field];
    if (value === undefined) continue;
    const messages = Array.isArray(value) ? value.flat(2) : typeof value === "object" && value !== null
      ? Object.values(value).flat(2) : [value];
    found[field] = messages.map(String).join(" ");
  }
  return Object.keys(found).length > 0 ? found : null;
}

/** Where to show an error from saving a webhook, in words a person understands. */
export function fieldErrors(error: unknown): FieldErrors {
  if (error instanceof ApiError) {
    if (error.status === 403) return { form: "Only the project's admins can change its webhooks." };
    const found = byCode(error) ?? byField(error);
    if (found) return found;
  }
  return { form: describeError(error) };
}

/** 32 random bytes as 64 hex characters, from the browser's CSPRNG. */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A timestamp for the tables, in the admin's locale; "—" for none. */
export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** The events of a webhook in the form's words. */
export function eventLabels(events: readonly string[]): string {
  return events.map((e) => WEBHOOK_EVENTS.find((w) => w.value === e)?.label ?? e).join(", ");
}
