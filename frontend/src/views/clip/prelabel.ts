import type { ClaimedItem } from "../../api/shapes";
import type { Track } from "../../clip/tracks";

/** The model's boxes as tracks: one keyframe per detection, on its frame; detections without a track id get one. */
export function tracksFromPrelabel(item: ClaimedItem): Track[] {
  const prelabel = item.prelabel;
  if (!prelabel) return [];
  const byId = new Map<number, Track>();
  let fresh = Math.max(0, ...prelabel.boxes.map((d) => d.track_id ?? 0)) + 1;
  for (const d of prelabel.boxes) {
    const id = d.track_id ?? fresh++;
    const frame = d.frame_index ?? prelabel.frame_index ?? 0;
    const [x = 0, y = 0, w = 0, h = 0] = d.box;
    const track = byId.get(id) ?? { id, label: d.label, keyframes: [] };
    byId.set(id, { ...track, keyframes: [...track.keyframes.filter((k) => k.frame !== frame), { frame, box: { x, y, w, h } }]
      .sort((a, b) => a.frame - b.frame) });
  }
  return [...byId.values()];
}
