/** The words and refusals shared by the members page's forms. */

import { ApiError } from "../../api/errors";
import type { Role } from "../../api/shapes";
import { type FieldErrors, messagesByField } from "../../ui/fieldErrors";

export const ROLES: readonly { value: Role; label: string; hint: string }[] = [
  { value: "admin", label: "Admin", hint: "everything, including members, devices and models" },
  { value: "annotator", label: "Annotator", hint: "annotates items from the queue" },
  { value: "reviewer", label: "Reviewer", hint: "accepts or rejects others' work" },
  { value: "manager", label: "Store manager", hint: "counts and flags of their sites only" },
  { value: "operator", label: "Bus operator", hint: "boarding clips of their sites only" },
];

/** Managers and operators see only their sites, so they need at least one; other roles see every site. */
export const isScoped = (role: Role) => role === "manager" || role === "operator";

export const roleLabel = (role: Role) => ROLES.find((r) => r.value === role)?.label ?? role;

/** An API refusal as messages beside the given fields, or for the form: 400 `invalid` by field, `unknown_site`
 * under the sites, `last_admin` in plain words. */
export type MemberField = "username" | "email" | "role" | "sites";

export function refusals(error: unknown, fields: readonly MemberField[]): FieldErrors<MemberField> {
  const byField = messagesByField(error, fields);
  if (byField) return byField;
  if (error instanceof ApiError && error.code === "unknown_site") {
    return { sites: "Some of these sites are no longer in the project: reload the page." };
  }
  if (error instanceof ApiError && error.code === "last_admin") {
    return { form: "This is the project's only admin. Make someone else admin first." };
  }
  if (error instanceof ApiError && error.code === "invalid") {
    const first = Object.values(error.details).flat(2)[0];
    return { form: first ? `${error.message} ${String(first)}` : error.message };
  }
  return { form: error instanceof Error ? error.message : String(error) };
}
