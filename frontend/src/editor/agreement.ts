/** Agreement between two sets of boxes: greedy one-to-one matching at IoU ≥ 0.5, same label. Pure. */

import type { Rect } from "./geometry";

export interface LabelledBox {
  label: string;
  box: readonly number[];
}

function rect(b: LabelledBox): Rect {
  return { x: b.box[0] ?? 0, y: b.box[1] ?? 0, w: b.box[2] ?? 0, h: b.box[3] ?? 0 };
}

export function iou(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/** A box this close (IoU) to one already there with the same label is the same object. */
export const SAME_OBJECT_IOU = 0.5;

/**
 * The incoming boxes that are not already there: one with the same label and IoU ≥ `threshold` to a box there
 * (or to an incoming one kept before it) is the same object, so asking twice adds nothing. Pure.
 */
export function unseenBoxes<T extends Rect & { label: string }>(
  existing: readonly (Rect & { label: string })[], incoming: readonly T[], threshold = SAME_OBJECT_IOU,
): T[] {
  const kept: T[] = [];
  for (const box of incoming) {
    const seen = (b: Rect & { label: string }) => b.label === box.label && iou(b, box) >= threshold;
    if (!existing.some(seen) && !kept.some(seen)) kept.push(box);
  }
  return kept;
}

/** F1 of the matching: 1 when both sets agree box for box, 0 when nothing matches; two empty sets agree. */
export function agreement(a: readonly LabelledBox[], b: readonly LabelledBox[], threshold = 0.5): number {
  if (a.length === 0 && b.length === 0) return 1;
  const pairs: { i: number; j: number; v: number }[] = [];
  a.forEach((p, i) => b.forEach((q, j) => {
    if (p.label !== q.label) return;
    const v = iou(rect(p), rect(q));
    if (v >= threshold) pairs.push({ i, j, v });
  }));
  pairs.sort((x, y) => y.v - x.v);
  const usedA = new Set<number>();
  const usedB = new Set<number>();
  for (const { i, j } of pairs) {
    if (usedA.has(i) || usedB.has(j)) continue;
    usedA.add(i);
    usedB.add(j);
  }
  return (2 * usedA.size) / (a.length + b.length);
}
