import type { CommentRegion } from "../../api/shapes";
import { type ViewTransform, imageToScreen } from "../../editor/geometry";

/** The region a reviewer pinned the rejection comment to, on the overlay in screen space (2 px at any zoom). */
export function drawCommentPin(ctx: CanvasRenderingContext2D, view: ViewTransform, dpr: number, region: CommentRegion) {
  const [x = 0, y = 0, w = 0, h = 0] = region.box;
  const a = imageToScreen(view, { x, y });
  const b = imageToScreen(view, { x: x + w, y: y + h });
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.strokeStyle = "#ff9f1a";
  ctx.lineWidth = 2;
  ctx.setLineDash([4, 3]);
  ctx.strokeRect(a.x, a.y, b.x - a.x, b.y - a.y);
  ctx.setLineDash([]);
  ctx.fillStyle = "#ff9f1a";
  ctx.font = "bold 12px system-ui, sans-serif";
  ctx.fillText("reviewer", a.x + 2, a.y - 4);
}
