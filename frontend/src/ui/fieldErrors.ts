/**
 * Form refusals beside the fields they concern: the API's 400 `invalid` answer maps each field name to its
 * messages (`details`), and a form shows them under the input and takes the keyboard to the first one.
 */

import { ApiError } from "../api/errors";

/** Messages for the fields they concern; `form` for what concerns none of them. */
export type FieldErrors<F extends string> = Partial<Record<F | "form", string>>;

/** The messages of a 400 `invalid` for the given fields (DRF's lists, nested lists or objects flattened to one
 * sentence each); null when it names none of them. */
export function messagesByField<F extends string>(error: unknown, fields: readonly F[]): Partial<Record<F, string>> | null {
  if (!(error instanceof ApiError) || error.code !== "invalid") return null;
  const found: Partial<Record<F, string>> = {};
  for (const field of fields) {
    const value = error.details[field];
    if (value === undefined) continue;
    const messages = Array.isArray(value) ? value.flat(2) : typeof value === "object" && value !== null
      ? Object.values(value).flat(2) : [value];
    found[field] = messages.map(String).join(" ");
  }
  return Object.keys(found).length > 0 ? found : null;
}

/** Whether any of `fields` has a message (the sign to announce "check the highlighted fields"). */
export function hasFieldError<F extends string>(errors: FieldErrors<F>, fields: readonly F[]): boolean {
  return fields.some((f) => errors[f]);
}

/** Focus the input of the first field (in the form's order) that has a message: it carries `data-field`. */
export function focusFirstError<F extends string>(form: HTMLFormElement | null, order: readonly F[],
                                                  errors: FieldErrors<F>): void {
  const first = order.find((f) => errors[f]);
  if (first) form?.querySelector<HTMLElement>(`[data-field="${first}"]`)?.focus();
}

/** `aria-describedby` for an input: its hint and, while it has one, its error. */
export function describedBy(hintId: string | undefined, errorId: string, hasError: boolean): string | undefined {
  return [hintId, hasError ? errorId : undefined].filter(Boolean).join(" ") || undefined;
}

const ALLOW_LIST_HELP = "Loupe only sends to hosts your operator has allowed (the server setting "
  + "LOUPE_OUTBOUND_ALLOWED_HOSTS). Use one of those hosts, or ask the operator to add this one.";

/** The words for a refused outbound URL (activelearning/outbound.py: `invalid_url`, `url_not_allowed` with
 * the host), with an example address of the kind wanted; null for any other error. */
export function outboundUrlMessage(error: ApiError, example: string): string | null {
  const host = typeof error.details.host === "string" ? error.details.host : null;
  if (error.code === "invalid_url") {
    return `Enter a full web address starting with https:// (or http://), for example ${example}.`;
  }
  if (error.code === "url_not_allowed") {
    return `Loupe may not send to ${host ?? "this address"}. ${ALLOW_LIST_HELP}`;
  }
  return null;
}
