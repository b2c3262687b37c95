/** A counting line and the moments tracks cross it. Pure; tracks are sampled at every frame. */

import type { Point, Rect } from "../editor/geometry";
import { type Track, boxAt } from "./tracks";

export interface CountingLine {
  a: Point;
  b: Point;
}

/** "in" when the track moves from the line's left side to its right (looking from a to b), else "out". */
export interface Crossing {
  trackId: number;
  frame: number;
  direction: "in" | "out";
}

/** The point of a box that touches the floor: where a person stands is what crosses a door line. */
export function anchorOf(box: Rect): Point {
  return { x: box.x + box.w / 2, y: box.y + box.h };
}

function side(line: CountingLine, p: Point): number {
  return (line.b.x - line.a.x) * (p.y - line.a.y) - (line.b.y - line.a.y) * (p.x - line.a.x);
}

/** True if segment p→q crosses the line segment (not just its infinite extension). */
function segmentsIntersect(line: CountingLine, p: Point, q: Point): boolean {
  const d1 = side(line, p);
  const d2 = side(line, q);
  const seg: CountingLine = { a: p, b: q };
  const d3 = side(seg, line.a);
  const d4 = side(seg, line.b);
  return d1 * d2 < 0 && d3 * d4 <= 0;
}

/**
 * Every crossing of every track, ordered by frame: between consecutive frames where the track exists, the
 * anchor moved from one side of the line to the other through the segment. Touching the line is not crossing.
 */
export function crossings(tracks: readonly Track[], line: CountingLine): Crossing[] {
  const events: Crossing[] = [];
  for (const track of tracks) {
    const first = track.keyframes[0];
    const last = track.keyframes[track.keyframes.length - 1];
    if (!first || !last) continue;
    // The last anchor strictly off the line: a track that stops on the line and goes back never crossed.
    let previous: Point | null = null;
    for (let f = first.frame; f <= last.frame; f++) {
      const box = boxAt(track, f);
      if (!box) continue;
      const p = anchorOf(box);
      if (side(line, p) === 0) continue;
      if (previous && segmentsIntersect(line, previous, p)) {
        // Screen y points down, so a positive cross product is the right-hand side.
        events.push({ trackId: track.id, frame: f, direction: side(line, p) > 0 ? "in" : "out" });
      }
      previous = p;
    }
  }
  return events.sort((x, y) => x.frame - y.frame || x.trackId - y.trackId);
}

/** Net count of a clip: crossings in minus crossings out. */
export function netCount(events: readonly Crossing[]): number {
  return events.reduce((n, e) => n + (e.direction === "in" ? 1 : -1), 0);
}
