/**
 * What changed between two sets of boxes (the model's pre-label and a submitted version, or a submitted version
 * and the reviewer's fix), box by box, for QA's diff overlay. Pure.
 *
 * The same rule as the server's stored diff (annotations/geometry.py `box_diff`): boxes are matched one to one
 * at IoU ≥ 0.5 whatever their label (best pairs first); a matched pair is `kept` at IoU ≥ 0.95, else `moved`,
 * and `relabelled` when the label changed; an unmatched "before" box was `deleted`, an unmatched "after" box
 * `added`.
 */

import { type LabelledBox, iou } from "../../editor/agreement";

export type DiffKind = "kept" | "moved" | "relabelled" | "added" | "deleted";
export const DIFF_KINDS: readonly DiffKind[] = ["kept", "moved", "relabelled", "added", "deleted"];

export interface DiffEntry {
  kind: DiffKind;
  /** The box before (null for `added`) and after (null for `deleted`). */
  before: LabelledBox | null;
  after: LabelledBox | null;
}

export const MATCH_IOU = 0.5;
export const MOVED_BELOW = 0.95;

const rect = (b: LabelledBox) => ({ x: b.box[0] ?? 0, y: b.box[1] ?? 0, w: b.box[2] ?? 0, h: b.box[3] ?? 0 });

/** One entry per box of either set: matched pairs first (in `after` order), then deletions, then additions. */
export function classifyDiff(before: readonly LabelledBox[], after: readonly LabelledBox[]): DiffEntry[] {
  const pairs: { i: number; j: number; v: number }[] = [];
  before.forEach((p, i) => after.forEach((q, j) => {
    const v = iou(rect(p), rect(q));
    if (v >= MATCH_IOU) pairs.push({ i, j, v });
  }));
  pairs.sort((x, y) => y.v - x.v || x.i - y.i || x.j - y.j);
  const matchOfAfter = new Map<number, { i: number; v: number }>();
  const usedBefore = new Set<number>();
  for (const { i, j, v } of pairs) {
    if (usedBefore.has(i) || matchOfAfter.has(j)) continue;
    usedBefore.add(i);
    matchOfAfter.set(j, { i, v });
  }
  const entries: DiffEntry[] = [];
  after.forEach((q, j) => {
    const m = matchOfAfter.get(j);
    if (!m) return;
    const p = before[m.i]!;
    const kind: DiffKind = p.label !== q.label ? "relabelled" : m.v >= MOVED_BELOW ? "kept" : "moved";
    entries.push({ kind, before: p, after: q });
  });
  before.forEach((p, i) => { if (!usedBefore.has(i)) entries.push({ kind: "deleted", before: p, after: null }); });
  after.forEach((q, j) => { if (!matchOfAfter.has(j)) entries.push({ kind: "added", before: null, after: q }); });
  return entries;
}

/** How many boxes of each kind. */
export function countDiff(entries: readonly DiffEntry[]): Record<DiffKind, number> {
  const counts: Record<DiffKind, number> = { kept: 0, moved: 0, relabelled: 0, added: 0, deleted: 0 };
  for (const e of entries) counts[e.kind] += 1;
  return counts;
}

/** "2 moved, 1 added" (kinds with none left out); "no change" when every box was kept. */
export function describeDiff(counts: Record<DiffKind, number>): string {
  const parts = DIFF_KINDS.filter((k) => k !== "kept" && counts[k] > 0).map((k) => `${counts[k]} ${k}`);
  return parts.length ? parts.join(", ") : "no change";
}

/** The same boxes in the same order (labels, and coordinates to 0.01 px): nothing for the reviewer to store. */
export function sameBoxes(a: readonly LabelledBox[], b: readonly LabelledBox[]): boolean {
  const r = (v: number | undefined) => Math.round((v ?? 0) * 100);
  return a.length === b.length && a.every((p, i) => {
    const q = b[i]!;
    return p.label === q.label && [0, 1, 2, 3].every((k) => r(p.box[k]) === r(q.box[k]));
  });
}
