/**
 * Adding the server model's boxes for one frame to the clip's tracks: a box that overlaps a track's box on that
 * frame (same label, IoU ≥ 0.5) is already there and is not stacked again; the others start new tracks keyed on
 * that frame. Pure.
 */

import { SAME_OBJECT_IOU, unseenBoxes } from "../editor/agreement";
import { type Track, boxAt } from "./tracks";

export interface FrameDetection {
  label: string;
  box: readonly number[];
}

export const MERGE_IOU = SAME_OBJECT_IOU;

export function mergeDetections(tracks: readonly Track[], frame: number, detections: readonly FrameDetection[],
                                labels: readonly string[],
                                firstNewId = tracks.reduce((max, t) => Math.max(max, t.id), 0) + 1,
                                threshold = MERGE_IOU): { tracks: readonly Track[]; added: number; matched: number } {
  const here = tracks.flatMap((t) => {
    const r = boxAt(t, frame);
    return r ? [{ label: t.label, ...r }] : [];
  });
  const known = detections.filter((d) => labels.includes(d.label)).map((d) => {
    const [x = 0, y = 0, w = 0, h = 0] = d.box;
    return { label: d.label, x, y, w, h };
  });
  // Two server boxes on the same person are one track too: unseenBoxes also compares with those kept before.
  const fresh = unseenBoxes(here, known, threshold);
  const added: Track[] = fresh.map(({ label, x, y, w, h }, i) => ({
    id: firstNewId + i, label, keyframes: [{ frame, box: { x, y, w, h } }] }));
  return { tracks: added.length > 0 ? [...tracks, ...added] : tracks, added: added.length,
           matched: known.length - added.length };
}
