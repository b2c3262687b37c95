import type { CountingLine } from "../../clip/crossing";
import { type ViewTransform, imageToScreen } from "../../editor/geometry";

/** The counting line on the overlay, in screen space so it stays 2 px wide at any zoom. */
export function drawCountingLine(ctx: CanvasRenderingContext2D, view: ViewTransform, dpr: number, line: CountingLine) {
  const a = imageToScreen(view, line.a);
  const b = imageToScreen(view, line.b);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.strokeStyle = "#ff3b3b";
  ctx.lineWidth = 2;
  ctx.setLineDash([10, 6]);
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = "#ff3b3b";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText("in ↓", (a.x + b.x) / 2 + 6, (a.y + b.y) / 2 + 14);
}
