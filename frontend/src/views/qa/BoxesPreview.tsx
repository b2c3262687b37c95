/** A read-only picture of one version's boxes on the item's frame (QA side by side, history). */

import { useEffect, useRef, useState } from "preact/hooks";
import { labelColor } from "../../editor/draw";
import { loadImage } from "../editor/media";

export interface PreviewBox {
  label: string;
  box: readonly number[];
  dashed?: boolean;
}

export function BoxesPreview({ url, size, boxes, labels, title, testId }: {
  url: string; size: { w: number; h: number }; boxes: readonly PreviewBox[]; labels: readonly string[];
  title: string; testId: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  useEffect(() => { loadImage(url).then(setImage, () => setImage(null)); }, [url]);
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
  }, [image, boxes, size.w, size.h, labels]);
  return (
    <figure class="preview" data-testid={testId}>
      <canvas ref={canvas} role="img" aria-label={`${title}: ${boxes.length} boxes`} />
      <figcaption>{title} · {boxes.length} boxes</figcaption>
    </figure>
  );
}
