/**
 * The webhook form's plain logic: the events an admin can subscribe to (the schema's WebhookEventEnum, with words
 * for people) and the API's refusals turned into sentences beside the field they concern.
 */

import type { WebhookEvent } from "../../api/endpoints";
import { ApiError, describeError } from "../../api/errors";
import { type FieldErrors as ErrorsOf, messagesByField, outboundUrlMessage } from "../../ui/fieldErrors";

/** Every event of the schema's enum, in the order the form shows them. */
export const WEBHOOK_EVENTS: readonly { value: WebhookEvent; label: string; hint: string }[] = [
  { value: "item.accepted", label: "Item accepted", hint: "a reviewer accepted an annotation" },
  { value: "threshold.reached", label: "Threshold reached", hint: "enough accepted items to retrain" },
  { value: "training.finished", label: "Training finished", hint: "a training run ended, well or not" },
  { value: "model.promoted", label: "Model promoted", hint: "a new champion, or a rollback" },
  { value: "drift.alert", label: "Drift alert", hint: "the input data moved away from the training data" },
  { value: "rollout.halted", label: "Rollout halted", hint: "a staged rollout failed a health gate and went back" },
  { value: "alert.opened", label: "Alert opened", hint: "a device, camera, drift or rollout alert rule started firing" },
  { value: "alert.resolved", label: "Alert resolved", hint: "an alert's condition cleared (sent for every alert.opened)" },
];

// Compile-time check: a new event in the schema's enum fails `tsc` until it is listed above.
type Missing = Exclude<WebhookEvent, (typeof WEBHOOK_EVENTS)[number]["value"]>;
const everyEventListed: [Missing] extends [never] ? true : Missing = true;
void everyEventListed;

export const MIN_SECRET_LENGTH = 32; // activelearning/webhooks/services.py MIN_SECRET_LENGTH

export type Field = "url" | "events" | "secret";

export const FIELDS: readonly Field[] = ["url", "events", "secret"];

/** Messages for the fields they concern; `form` for what concerns none of them. */
export type FieldErrors = ErrorsOf<Field>;

function byCode(error: ApiError): FieldErrors | null {
  const url = outboundUrlMessage(error, "https://hooks.example.com/loupe");
  if (url) return { url };
  switch (error.code) {
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

/** Where to show an error from saving a webhook, in words a person understands. */
export function fieldErrors(error: unknown): FieldErrors {
  if (error instanceof ApiError) {
    if (error.status === 403) return { form: "Only the project's admins can change its webhooks." };
    const found = byCode(error) ?? messagesByField(error, FIELDS);
    if (found) return found;
  }
  return { form: describeError(error) };
}

/** A timestamp for the tables, in the admin's locale; "—" for none. */
export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** The events of a webhook in the form's words. */
export function eventLabels(events: readonly string[]): string {
  return events.map((e) => WEBHOOK_EVENTS.find((w) => w.value === e)?.label ?? e).join(", ");
}
