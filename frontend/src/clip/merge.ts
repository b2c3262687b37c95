/**
 * Adding the server model's boxes for one frame to the clip's tracks: a box that overlaps a track's box on that
 * frame (same label, IoU ≥ 0.5) is already there and is not stacked again; the others start new tracks keyed on
 * that frame. Pure.
 */

import { iou } from "../editor/agreement";
import { type Track, boxAt } from "./tracks";

export interface FrameDetection {
  label: string;
  box: readonly number[];
}

export const MERGE_IOU = 0.5;

export function mergeDetections(tracks: readonly Track[], frame: number, detections: readonly FrameDetection[],
                                labels: readonly string[],
                                firstNewId = tracks.reduce((max, t) => Math.max(max, t.id), 0) + 1,
                                threshold = MERGE_IOU): { tracks: readonly Track[]; added: number; matched: number } {
  let nextId = firstNewId;
  const here = tracks.flatMap((t) => {
    const r = boxAt(t, frame);
    return r ? [{ label: t.label, rect: r }] : [];
  });
  const added: Track[] = [];
  let matched = 0;
  for (const d of detections) {
    if (!labels.includes(d.label)) continue;
    const [x = 0, y = 0, w = 0, h = 0] = d.box;
    const rect = { x, y, w, h };
    if (here.some((b) => b.label === d.label && iou(b.rect, rect) >= threshold)) {
      matched += 1;
      continue;
    }
    here.push({ label: d.label, rect }); // two server boxes on the same person are one track too
    added.push({ id: nextId++, label: d.label, keyframes: [{ frame, box: rect }] });
  }
  return { tracks: added.length > 0 ? [...tracks, ...added] : tracks, added: added.length, matched };
}
