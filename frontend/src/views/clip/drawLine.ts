import type { CountingLine } from "../../clip/crossing";
import { type ViewTransform, imageToScreen } from "../../editor/geometry";

/** The counting line and its end handles on the overlay, in screen space so they keep their size at any zoom. */
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
  // The ends are handles: drag them to move the line (clip/line.ts grabs within LINE_HANDLE_PX).
  for (const p of [a, b]) {
    ctx.beginPath();
    ctx.arc(p.x, p.y, 6, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText("in ↓", (a.x + b.x) / 2 + 6, (a.y + b.y) / 2 + 14);
}
