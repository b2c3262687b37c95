/**
 * The Label Studio page's plain logic: the queue reasons an admin can push by (the schema's ReasonsEnum, with
 * words for people), the push and sync answers as sentences, and the link form's refusals beside their fields.
 */

import type { LabelStudioPushResult, LabelStudioSyncResult, Reason } from "../../api/endpoints";
import { ApiError, describeError } from "../../api/errors";
import { type FieldErrors as ErrorsOf, messagesByField, outboundUrlMessage } from "../../ui/fieldErrors";

/** Every reason of the schema's enum (reviewer.models.Reason), in the order the forms show them. */
export const REASONS: readonly { value: Reason; label: string }[] = [
  { value: "low_confidence", label: "Low confidence" },
  { value: "disputed", label: "Disputed" },
  { value: "model_disagreement", label: "Models disagree" },
  { value: "ood", label: "Out of distribution" },
  { value: "audit_sample", label: "Audit sample" },
  { value: "count_flag", label: "Count flag" },
  { value: "qa", label: "QA" },
  { value: "uncertainty", label: "Uncertainty" },
  { value: "policy_rule", label: "Policy rule" },
];

// Compile-time check: a new reason in the schema's enum fails `tsc` until it is listed above.
type Missing = Exclude<Reason, (typeof REASONS)[number]["value"]>;
const everyReasonListed: [Missing] extends [never] ? true : Missing = true;
void everyReasonListed;

export const MAX_PUSH = 20_000; // activelearning/labelstudio/services.py MAX_PUSH

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The reasons in the form's words: "Low confidence, Disputed"; "any reason" for none. */
export function reasonLabels(reasons: readonly string[] | undefined): string {
  if (!reasons || reasons.length === 0) return "any reason";
  return reasons.map((r) => REASONS.find((x) => x.value === r)?.label ?? r).join(", ");
}

/** A push's answer in one sentence: "Pushed 200 items as Label Studio tasks; 0 already there." */
export function describePush(result: LabelStudioPushResult): string {
  const clips = result.skipped_clips
    ? ` ${plural(result.skipped_clips, "clip was", "clips were")} left out: Label Studio gets still images only.` : "";
  const none = result.pushed === 0 && result.already_pushed === 0 ? " No pending still image matched." : "";
  return `Pushed ${plural(result.pushed, "item as a Label Studio task", "items as Label Studio tasks")}; `
    + `${result.already_pushed} already there.${clips}${none}`;
}

/** What "Sync now" brought, in one sentence. */
export function describeSync(result: LabelStudioSyncResult): string {
  if (result.skipped) return `Not synced: ${result.skipped}.`;
  const parts = [`${plural(result.received ?? 0, "new version", "new versions")} received`];
  if (result.confirmed) parts.push(`${plural(result.confirmed, "push", "pushes")} confirmed`);
  if (result.returned) {
    parts.push(`${plural(result.returned, "item", "items")} back in the queue (deleted in Label Studio)`);
  }
  if (result.renewed) parts.push(`${plural(result.renewed, "image link", "image links")} renewed`);
  if (result.pushed) parts.push(`${plural(result.pushed, "item", "items")} pushed automatically`);
  return `Synced with Label Studio: ${parts.join(", ")}.`;
}

export type Field = "url" | "token" | "ls_project_id" | "loupe_url" | "push_filter";

/** The link form's fields, in its order. */
export const FIELDS: readonly Field[] = ["url", "token", "ls_project_id", "loupe_url", "push_filter"];

export type FieldErrors = ErrorsOf<Field>;

function byCode(error: ApiError): FieldErrors | null {
  const url = outboundUrlMessage(error, "https://labelstudio.example.com");
  if (url) return { url };
  switch (error.code) {
    case "labelstudio_token_refused":
      return { token: `${error.message} Copy the token again from Label Studio (Account & Settings → `
                      + "Access Token)." };
    case "labelstudio_project_not_found":
      return { ls_project_id: `${error.message} Leave this empty to make a new one, or check the number in `
                              + "the Label Studio project's address." };
    case "invalid":
      // The service's own check names the value it refused, not a list of messages: the message says it.
      if (typeof error.details.loupe_url === "string") return { loupe_url: error.message };
      return null;
    default:
      return null;
  }
}

/** Where to show an error from linking, in words a person understands; `form` for the rest (the server's
 * message, never a blank page). */
export function fieldErrors(error: unknown): FieldErrors {
  if (error instanceof ApiError) {
    if (error.status === 403) return { form: "Only the project's admins can link it to Label Studio." };
    const found = byCode(error) ?? messagesByField(error, FIELDS);
    if (found) return found;
  }
  return { form: describeError(error) };
}

/** A timestamp in the admin's locale; "never" for none. */
export function when(iso: string | null | undefined, none = "never"): string {
  return iso ? new Date(iso).toLocaleString() : none;
}
