/** Plain geometry for the editor: boxes in image pixels, the view transform, hit testing. No DOM. */

export interface Point {
  x: number;
  y: number;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** screen = image * scale + (tx, ty), in CSS pixels of the canvas element. */
export interface ViewTransform {
  scale: number;
  tx: number;
  ty: number;
}

export const IDENTITY: ViewTransform = { scale: 1, tx: 0, ty: 0 };
export const MIN_SCALE = 0.05;
export const MAX_SCALE = 40;

export function screenToImage(view: ViewTransform, p: Point): Point {
  return { x: (p.x - view.tx) / view.scale, y: (p.y - view.ty) / view.scale };
}

export function imageToScreen(view: ViewTransform, p: Point): Point {
  return { x: p.x * view.scale + view.tx, y: p.y * view.scale + view.ty };
}

/** Zoom by `factor` keeping the image point under `anchor` (screen) where it is. */
export function zoomAt(view: ViewTransform, anchor: Point, factor: number): ViewTransform {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
  const k = scale / view.scale;
  return { scale, tx: anchor.x - (anchor.x - view.tx) * k, ty: anchor.y - (anchor.y - view.ty) * k };
}

/** The transform that shows the whole image centred in a viewport, with a small margin. */
export function fitTransform(image: { w: number; h: number }, viewport: { w: number; h: number }): ViewTransform {
  if (image.w <= 0 || image.h <= 0 || viewport.w <= 0 || viewport.h <= 0) return IDENTITY;
  const scale = Math.min(viewport.w / image.w, viewport.h / image.h) * 0.98;
  return { scale, tx: (viewport.w - image.w * scale) / 2, ty: (viewport.h - image.h * scale) / 2 };
}

/** A rectangle from two corners, in any order. */
export function rectFromPoints(a: Point, b: Point): Rect {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
}

/** Clip a rectangle to the image; null if nothing is left. */
export function clipToImage(r: Rect, image: { w: number; h: number }): Rect | null {
  const x0 = Math.max(0, r.x);
  const y0 = Math.max(0, r.y);
  const x1 = Math.min(image.w, r.x + r.w);
  const y1 = Math.min(image.h, r.y + r.h);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } : null;
}

export function containsPoint(r: Rect, p: Point): boolean {
  return p.x >= r.x && p.x <= r.x + r.w && p.y >= r.y && p.y <= r.y + r.h;
}

export type Handle = "nw" | "ne" | "sw" | "se";
export const HANDLES: readonly Handle[] = ["nw", "ne", "sw", "se"];

export function handlePoint(r: Rect, handle: Handle): Point {
  return {
    x: handle === "nw" || handle === "sw" ? r.x : r.x + r.w,
    y: handle === "nw" || handle === "ne" ? r.y : r.y + r.h,
  };
}

/** The corner opposite `handle`: it stays put while the handle is dragged. */
export function oppositeCorner(r: Rect, handle: Handle): Point {
  const opposite: Record<Handle, Handle> = { nw: "se", ne: "sw", sw: "ne", se: "nw" };
  return handlePoint(r, opposite[handle]);
}

export function roundRect(r: Rect, digits = 2): Rect {
  const f = 10 ** digits;
  const round = (v: number) => Math.round(v * f) / f;
  return { x: round(r.x), y: round(r.y), w: round(r.w), h: round(r.h) };
}
