/** A read-only picture of one version's boxes on the item's frame (QA side by side, history). With
 * `onRegion`, dragging on it marks a region (image pixels) that a rejection comment is pinned to. */

import { useEffect, useRef, useState } from "preact/hooks";
import { labelColor } from "../../editor/draw";
import { loadImage } from "../editor/media";

export interface PreviewBox {
  label: string;
  box: readonly number[];
  dashed?: boolean;
}

const PIN = "#ff9f1a";
const MIN_REGION = 3; // image pixels: a click is not a region

export function BoxesPreview({ url, size, boxes, labels, title, testId, region, onRegion }: {
  url: string; size: { w: number; h: number }; boxes: readonly PreviewBox[]; labels: readonly string[];
  title: string; testId: string; region?: readonly number[] | null; onRegion?: (box: number[]) => void;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  const [dragStart, setDragStart] = useState<{ x: number; y: number } | null>(null);
  const [dragBox, setDragBox] = useState<number[] | null>(null);
  useEffect(() => { loadImage(url).then(setImage, () => setImage(null)); }, [url]);
  const shown = dragBox ?? region ?? null;
  useEffect(() => {
    const c = canvas.current!;
    const dpr = window.devicePixelRatio || 1;
    const cssW = c.clientWidth || 400;
    const scale = cssW / Math.max(1, size.w);
    c.width = Math.round(cssW * dpr);
    c.height = Math.round(size.h * scale * dpr);
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr * scale, 0, 0, dpr * scale, 0, 0);
    if (image) ctx.drawImage(image, 0, 0, size.w, size.h);
    ctx.lineWidth = 2 / scale;
    for (const b of boxes) {
      ctx.strokeStyle = b.dashed ? "#e8e8e8" : labelColor(labels, b.label);
      ctx.setLineDash(b.dashed ? [6 / scale, 4 / scale] : []);
      ctx.strokeRect(b.box[0] ?? 0, b.box[1] ?? 0, b.box[2] ?? 0, b.box[3] ?? 0);
    }
    if (shown) {
      ctx.strokeStyle = PIN;
      ctx.setLineDash([4 / scale, 3 / scale]);
      ctx.strokeRect(shown[0] ?? 0, shown[1] ?? 0, shown[2] ?? 0, shown[3] ?? 0);
    }
  }, [image, boxes, size.w, size.h, labels, shown]);

  /** Pointer position in image pixels, clamped to the frame. */
  const toImage = (e: PointerEvent) => {
    const rect = canvas.current!.getBoundingClientRect();
    const scale = rect.width / Math.max(1, size.w);
    const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
    return { x: clamp((e.clientX - rect.left) / scale, size.w), y: clamp((e.clientY - rect.top) / scale, size.h) };
  };
  const boxFrom = (a: { x: number; y: number }, b: { x: number; y: number }) =>
    [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.abs(a.x - b.x), Math.abs(a.y - b.y)].map((v) => Math.round(v));
  const handlers = onRegion ? {
    onPointerDown: (e: PointerEvent) => {
      canvas.current!.setPointerCapture(e.pointerId);
      setDragStart(toImage(e));
    },
    onPointerMove: (e: PointerEvent) => { if (dragStart) setDragBox(boxFrom(dragStart, toImage(e))); },
    onPointerUp: (e: PointerEvent) => {
      if (!dragStart) return;
      const box = boxFrom(dragStart, toImage(e));
      setDragStart(null);
      setDragBox(null);
      if ((box[2] ?? 0) >= MIN_REGION && (box[3] ?? 0) >= MIN_REGION) onRegion(box);
    },
  } : {};
  return (
    <figure class="preview" data-testid={testId}>
      <canvas ref={canvas} role="img" style={onRegion ? { cursor: "crosshair" } : undefined}
              aria-label={`${title}: ${boxes.length} boxes${shown ? ", a region is marked" : ""}`} {...handlers} />
      <figcaption>{title} · {boxes.length} boxes</figcaption>
    </figure>
  );
}
