/**
 * Moving through QA at speed: after a decision (or `n`) the screen opens the next item awaiting review, in the
 * order the reviewer chose in the list, never the one just left; a short message says what happened to it.
 */

import { type ItemListQuery, listItems } from "../../api/endpoints";
import { href, navigate } from "../../router";

export type QaOrdering = NonNullable<ItemListQuery["ordering"]>;

const ORDERING_KEY = "loupe.qa.ordering";
const ORDERINGS: readonly QaOrdering[] = ["-updated_at", "updated_at", "agreement", "-priority"];

/** Items passed over with `n` this session: offered again only when nothing else waits. */
const passed = new Set<number>();
let flash: string | null = null;

export function savedOrdering(): QaOrdering {
  const saved = sessionStorage.getItem(ORDERING_KEY) as QaOrdering | null;
  return saved && ORDERINGS.includes(saved) ? saved : "-updated_at";
}

export function saveOrdering(ordering: QaOrdering): void {
  sessionStorage.setItem(ORDERING_KEY, ordering);
}

/** The message for the next screen (read once). */
export function takeFlash(): string | null {
  const message = flash;
  flash = null;
  return message;
}

/** Of the items awaiting review (in list order), the one to open after `current`: not `current`, preferably
 * one not passed over; else the one after `current` in the list. Pure. */
export function pickNext(ids: readonly number[], current: number, skipped: ReadonlySet<number>): number | null {
  const fresh = ids.find((id) => id !== current && !skipped.has(id));
  if (fresh !== undefined) return fresh;
  const others = ids.filter((id) => id !== current);
  if (others.length === 0) return null;
  const at = ids.indexOf(current);
  return at < 0 ? others[0]! : (ids.slice(at + 1).find((id) => id !== current) ?? others[0]!);
}

/** Open the next item awaiting review (or the empty list), with `message` shown there. */
export async function openNext(project: number, current: number, { message, pass = false }: {
  message?: string; pass?: boolean;
} = {}): Promise<void> {
  if (pass) passed.add(current);
  else passed.delete(current);
  flash = message ?? null;
  const rows = await listItems(project, { status: "submitted", ordering: savedOrdering() });
  const next = pickNext(rows.map((r) => r.id), current, passed);
  navigate(next === null ? href.qa(project) : href.qa(project, next));
}
