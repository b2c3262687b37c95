/** QA's diff overlay, drawn over the editor's layers in screen space (2 px at any zoom). */

import type { LabelledBox } from "../../editor/agreement";
import { type ViewTransform, imageToScreen } from "../../editor/geometry";
import type { DiffEntry, DiffKind } from "./diff";

/** Colours apart from the label palette's, so a diff mark never reads as a class. */
export const DIFF_STYLE: Record<DiffKind, { color: string; label: string }> = {
  kept: { color: "#b0bec5", label: "kept" },
  moved: { color: "#29b6f6", label: "moved (dashed: where the model had it)" },
  relabelled: { color: "#e040fb", label: "relabelled" },
  added: { color: "#00e676", label: "added" },
  deleted: { color: "#ff1744", label: "deleted (the model's box, removed)" },
};

function screenRect(view: ViewTransform, b: LabelledBox) {
  const [x = 0, y = 0, w = 0, h = 0] = b.box;
  const a = imageToScreen(view, { x, y });
  const c = imageToScreen(view, { x: x + w, y: y + h });
  return { x: a.x, y: a.y, w: c.x - a.x, h: c.y - a.y };
}

export function drawDiff(ctx: CanvasRenderingContext2D, view: ViewTransform, dpr: number,
                         entries: readonly DiffEntry[]): void {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  for (const e of entries) {
    const { color } = DIFF_STYLE[e.kind];
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    if (e.kind === "deleted" && e.before) {
      const r = screenRect(view, e.before);
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.strokeRect(r.x, r.y, r.w, r.h);
      ctx.beginPath(); // a cross: the box is gone
      ctx.moveTo(r.x, r.y); ctx.lineTo(r.x + r.w, r.y + r.h);
      ctx.moveTo(r.x + r.w, r.y); ctx.lineTo(r.x, r.y + r.h);
      ctx.setLineDash([]);
      ctx.lineWidth = 1;
      ctx.stroke();
      continue;
    }
    if (!e.after) continue;
    const r = screenRect(view, e.after);
    if (e.kind === "moved" && e.before) {
      const o = screenRect(view, e.before);
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(o.x, o.y, o.w, o.h);
      ctx.beginPath();
      ctx.moveTo(o.x + o.w / 2, o.y + o.h / 2);
      ctx.lineTo(r.x + r.w / 2, r.y + r.h / 2);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.lineWidth = e.kind === "kept" ? 1 : 3;
    ctx.setLineDash(e.kind === "kept" ? [2, 2] : []);
    ctx.strokeRect(r.x - 2, r.y - 2, r.w + 4, r.h + 4);
    ctx.setLineDash([]);
    if (e.kind === "added") {
      ctx.globalAlpha = 0.15;
      ctx.fillRect(r.x, r.y, r.w, r.h);
      ctx.globalAlpha = 1;
    }
  }
}
