/** Tracks over a clip: keyframes set by a person, linear interpolation between them (as in CVAT). Pure. */

import type { Rect } from "../editor/geometry";

export interface Keyframe {
  frame: number;
  box: Rect;
}

export interface Track {
  id: number;
  label: string;
  /** Sorted by frame, one per frame at most. */
  keyframes: readonly Keyframe[];
}

/**
 * The track's box on `frame`: a keyframe's box, or the linear blend of the keyframes around it.
 * A track exists from its first to its last keyframe; outside that span it is null.
 */
export function boxAt(track: Track, frame: number): Rect | null {
  const keys = track.keyframes;
  if (keys.length === 0) return null;
  const first = keys[0]!;
  const last = keys[keys.length - 1]!;
  if (frame < first.frame || frame > last.frame) return null;
  // Binary search for the last keyframe at or before `frame`.
  let lo = 0;
  let hi = keys.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (keys[mid]!.frame <= frame) lo = mid;
    else hi = mid - 1;
  }
  const a = keys[lo]!;
  if (a.frame === frame || lo === keys.length - 1) return { ...a.box };
  const b = keys[lo + 1]!;
  const t = (frame - a.frame) / (b.frame - a.frame);
  const mix = (u: number, v: number) => u + (v - u) * t;
  return { x: mix(a.box.x, b.box.x), y: mix(a.box.y, b.box.y), w: mix(a.box.w, b.box.w), h: mix(a.box.h, b.box.h) };
}

/** Set (or replace) the keyframe on `frame`; the frames between neighbours follow by interpolation. */
export function setKeyframe(track: Track, frame: number, box: Rect): Track {
  const others = track.keyframes.filter((k) => k.frame !== frame);
  const keyframes = [...others, { frame, box: { ...box } }].sort((p, q) => p.frame - q.frame);
  return { ...track, keyframes };
}

export function removeKeyframe(track: Track, frame: number): Track {
  return { ...track, keyframes: track.keyframes.filter((k) => k.frame !== frame) };
}

export function isKeyframe(track: Track, frame: number): boolean {
  return track.keyframes.some((k) => k.frame === frame);
}

/** Every frame's box of every track, for submission: `frame_index` and `track_id` on each. */
export function expandTracks(tracks: readonly Track[]): { label: string; box: number[]; frame_index: number;
                                                          track_id: number }[] {
  const out: { label: string; box: number[]; frame_index: number; track_id: number }[] = [];
  const round = (v: number) => Math.round(v * 100) / 100;
  for (const track of tracks) {
    const first = track.keyframes[0];
    const last = track.keyframes[track.keyframes.length - 1];
    if (!first || !last) continue;
    for (let f = first.frame; f <= last.frame; f++) {
      const r = boxAt(track, f)!;
      out.push({ label: track.label, box: [round(r.x), round(r.y), round(r.w), round(r.h)], frame_index: f,
                 track_id: track.id });
    }
  }
  return out;
}

/** Where `frame` lies on a track: on a keyframe, between two (interpolated), or outside its span. */
export type TrackStatus = "keyframe" | "interpolated" | "before first keyframe" | "after last keyframe" | "empty";

export function trackStatus(track: Track, frame: number): TrackStatus {
  const first = track.keyframes[0];
  const last = track.keyframes[track.keyframes.length - 1];
  if (!first || !last) return "empty";
  if (frame < first.frame) return "before first keyframe";
  if (frame > last.frame) return "after last keyframe";
  return isKeyframe(track, frame) ? "keyframe" : "interpolated";
}

/** The status line for the selected track on `frame`, saying plainly when the track is not on this frame. */
export function describeTrackStatus(track: Track, frame: number): string {
  const status = trackStatus(track, frame);
  const first = track.keyframes[0];
  const last = track.keyframes[track.keyframes.length - 1];
  switch (status) {
    case "keyframe":
      return `Track #${track.id}: keyframe on this frame`;
    case "interpolated":
      return `Track #${track.id}: interpolated between keyframes`;
    case "before first keyframe":
      return `Track #${track.id}: not tracked here (starts at frame ${first!.frame + 1}); press e to extend it back to this frame`;
    case "after last keyframe":
      return `Track #${track.id}: not tracked here (after its last keyframe, frame ${last!.frame + 1}); press e to extend it to this frame`;
    default:
      return `Track #${track.id}: no keyframes`;
  }
}
