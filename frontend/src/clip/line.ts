/** Dragging the counting line's endpoints on the canvas: which end is under the pointer, and where it goes. Pure. */

import { type Point, type ViewTransform, imageToScreen, screenToImage } from "../editor/geometry";
import type { CountingLine } from "./crossing";

/** Screen pixels: how close to an endpoint a press must be to grab it (the drawn handle is 6 px). */
export const LINE_HANDLE_PX = 10;

/** The endpoint within `tolerance` screen pixels of `screen` (the nearer one if both are), else null. */
export function endpointAt(line: CountingLine, view: ViewTransform, screen: Point,
                           tolerance = LINE_HANDLE_PX): "a" | "b" | null {
  const dist = (p: Point) => {
    const s = imageToScreen(view, p);
    return Math.hypot(s.x - screen.x, s.y - screen.y);
  };
  const da = dist(line.a);
  const db = dist(line.b);
  if (Math.min(da, db) > tolerance) return null;
  return da <= db ? "a" : "b";
}

/** The line with endpoint `which` moved under the pointer, kept inside the image and rounded to a pixel. */
export function moveEndpoint(line: CountingLine, which: "a" | "b", view: ViewTransform, screen: Point,
                             image: { w: number; h: number }): CountingLine {
  const p = screenToImage(view, screen);
  const clamped = { x: Math.round(Math.min(image.w, Math.max(0, p.x))),
                    y: Math.round(Math.min(image.h, Math.max(0, p.y))) };
  return { ...line, [which]: clamped };
}
