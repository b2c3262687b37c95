import type { ClaimedItem, Detection } from "../../api/shapes";
import type { Track } from "../../clip/tracks";

/** The camera's boxes for a clip: the pre-label's, or for a dispute that came without any, the device's own. */
export function deviceDetections(item: ClaimedItem): { boxes: Detection[]; frame: number } {
  const prelabel = item.prelabel;
  if (prelabel && prelabel.boxes.length > 0) return { boxes: prelabel.boxes, frame: prelabel.frame_index ?? 0 };
  const device = item.dispute?.device;
  if (device && device.boxes.length > 0) return { boxes: device.boxes, frame: device.frame_index ?? 0 };
  return { boxes: [], frame: 0 };
}

/** What the person starts from: the rejected version's boxes for rework (DESIGN.md "Work comes back to its
 * owner"), else the model's. */
export function startingTracks(item: ClaimedItem): Track[] {
  if (item.rework) return tracksFromBoxes(item.rework.boxes, 0);
  const { boxes, frame } = deviceDetections(item);
  return tracksFromBoxes(boxes, frame);
}

/** The model's boxes as tracks: one keyframe per detection, on its frame; detections without a track id get one. */
export function tracksFromPrelabel(item: ClaimedItem): Track[] {
  const { boxes, frame } = deviceDetections(item);
  return tracksFromBoxes(boxes, frame);
}

function tracksFromBoxes(boxes: readonly { label: string; box: readonly number[]; frame_index?: number | null;
                                          track_id?: number | null }[], defaultFrame: number): Track[] {
  const byId = new Map<number, Track>();
  let fresh = Math.max(0, ...boxes.map((d) => d.track_id ?? 0)) + 1;
  for (const d of boxes) {
    const id = d.track_id ?? fresh++;
    const frame = d.frame_index ?? defaultFrame;
    const [x = 0, y = 0, w = 0, h = 0] = d.box;
    const track = byId.get(id) ?? { id, label: d.label, keyframes: [] };
    byId.set(id, { ...track, keyframes: [...track.keyframes.filter((k) => k.frame !== frame), { frame, box: { x, y, w, h } }]
      .sort((a, b) => a.frame - b.frame) });
  }
  return [...byId.values()];
}

/** "people-det v3", or what is known of it: devices may send a dispute without naming their model. */
export function modelCaption(model: { name: string; version: string } | null | undefined): string {
  const name = model?.name.trim() ?? "";
  const version = model?.version.trim() ?? "";
  if (!name) return "the device's model (not named by the device)";
  return version ? `${name} v${version}` : name;
}
