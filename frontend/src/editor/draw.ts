/**
 * Drawing is a function of the editor state. Two layers: the base (image + every box not being edited) and
 * the overlay (the edited/selected box, its handles, the rubber band, the hover tag). Boxes are stroked as
 * one path per style, so 500 boxes cost a handful of draw calls and no per-box allocation.
 */

import { HANDLES, type Rect, type ViewTransform, handlePoint, imageToScreen } from "./geometry";
import { type EditorBox, type EditorState, draftRect, isPrelabel } from "./state";

const PALETTE = ["#ffb000", "#00c2ff", "#ff5fa2", "#7ee05a", "#c58bff", "#ff7a3d", "#3df5d0", "#f2f25c", "#9db2ff"];
const PRELABEL_COLOR = "#e8e8e8";

export function labelColor(labels: readonly string[], label: string): string {
  const i = labels.indexOf(label);
  return PALETTE[(i < 0 ? labels.length : i) % PALETTE.length]!;
}

/** Size the canvas backing store for the device pixel ratio; true if it changed. */
export function fitCanvas(canvas: HTMLCanvasElement, cssW: number, cssH: number, dpr: number): boolean {
  const w = Math.max(1, Math.round(cssW * dpr));
  const h = Math.max(1, Math.round(cssH * dpr));
  if (canvas.width === w && canvas.height === h) return false;
  canvas.width = w;
  canvas.height = h;
  return true;
}

function setImageTransform(ctx: CanvasRenderingContext2D, view: ViewTransform, dpr: number): void {
  ctx.setTransform(dpr * view.scale, 0, 0, dpr * view.scale, dpr * view.tx, dpr * view.ty);
}

/** Above this many boxes on a frame the base layer draws no captions (the hover tag still names a box). */
const CAPTION_LIMIT = 150;

/** The CSS filter for the image layer (brightness/contrast), or "none". */
export function imageFilterCss(state: EditorState): string {
  const { brightness, contrast } = state.imageFilter;
  return brightness === 1 && contrast === 1 ? "none" : `brightness(${brightness}) contrast(${contrast})`;
}

function strokeGroup(ctx: CanvasRenderingContext2D, boxes: readonly EditorBox[], include: (b: EditorBox) => boolean,
                     color: string, width: number, dash: number[]): void {
  ctx.beginPath();
  let any = false;
  for (const b of boxes) {
    if (!include(b)) continue;
    ctx.rect(b.x, b.y, b.w, b.h);
    any = true;
  }
  if (!any) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.setLineDash(dash);
  ctx.stroke();
}

/** Base layer: the image drawn from its full-resolution source at the current transform, then the boxes. */
export function drawBase(ctx: CanvasRenderingContext2D, state: EditorState, image: CanvasImageSource | null,
                         dpr: number, skipId: number | null): void {
  const { view } = state;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  setImageTransform(ctx, view, dpr);
  // Past 2× the pixels themselves are the information: show them crisp rather than blurred.
  ctx.imageSmoothingEnabled = view.scale < 2;
  if (image) {
    // The filter brightens the picture only: boxes and captions keep their colours.
    ctx.filter = imageFilterCss(state);
    ctx.drawImage(image, 0, 0, state.image.w, state.image.h);
    ctx.filter = "none";
  }
  const px = 1 / view.scale;
  const shown = (b: EditorBox) => b.id !== skipId && (state.showPrelabels || !isPrelabel(b));
  // Suggestions (pre-labels below the threshold, not accepted) are dashed: they count only once accepted.
  strokeGroup(ctx, state.boxes, (b) => shown(b) && isPrelabel(b), PRELABEL_COLOR, 2 * px, [6 * px, 4 * px]);
  const labels = new Set<string>();
  for (const b of state.boxes) if (shown(b) && !isPrelabel(b)) labels.add(b.label);
  for (const label of labels) {
    strokeGroup(ctx, state.boxes, (b) => shown(b) && !isPrelabel(b) && b.label === label,
                labelColor(state.labels, label), 2 * px, []);
  }
  ctx.setLineDash([]);
  const captioned = state.boxes.filter(shown);
  if (captioned.length <= CAPTION_LIMIT) {
    for (const b of captioned) {
      if (b.w * view.scale < 16) continue; // too small on screen for a caption to say which box it is
      tag(ctx, view, dpr, b, b.label, isPrelabel(b) ? PRELABEL_COLOR : labelColor(state.labels, b.label), 14);
    }
  }
}

/** A caption above a box's top-left corner, in screen pixels (readable at any zoom). */
function tag(ctx: CanvasRenderingContext2D, view: ViewTransform, dpr: number, box: Rect, text: string, color: string,
             height = 18) {
  const p = imageToScreen(view, { x: box.x, y: box.y });
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = `${height - 6}px system-ui, sans-serif`;
  const w = ctx.measureText(text).width + 6;
  const y = Math.max(0, p.y - height);
  ctx.fillStyle = "rgba(0,0,0,0.75)";
  ctx.fillRect(p.x, y, w, height);
  ctx.fillStyle = color;
  ctx.fillText(text, p.x + 3, y + height - 4);
}

export function boxCaption(box: EditorBox): string {
  const score = box.score === null ? "" : ` ${(box.score * 100).toFixed(0)}%`;
  const source = isPrelabel(box) ? " (suggestion)" : box.origin === "model" ? " (model)" : "";
  const track = box.trackId === null ? "" : ` #${box.trackId}`;
  return `${box.label}${track}${score}${source}`;
}

/** Overlay layer: the selected (or edited) box with handles, the rubber band, the hover caption. */
export function drawOverlay(ctx: CanvasRenderingContext2D, state: EditorState, dpr: number): void {
  const { view } = state;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  const px = 1 / view.scale;
  const selected = state.boxes.find((b) => b.id === state.selectedId);
  if (selected) {
    setImageTransform(ctx, view, dpr);
    const color = isPrelabel(selected) ? PRELABEL_COLOR : labelColor(state.labels, selected.label);
    ctx.lineWidth = 3 * px;
    ctx.strokeStyle = color;
    ctx.setLineDash(isPrelabel(selected) ? [6 * px, 4 * px] : []);
    ctx.strokeRect(selected.x, selected.y, selected.w, selected.h);
    ctx.setLineDash([]);
    ctx.fillStyle = "#ffffff";
    const s = 7 * px;
    for (const h of HANDLES) {
      const c = handlePoint(selected, h);
      ctx.fillRect(c.x - s / 2, c.y - s / 2, s, s);
      ctx.strokeRect(c.x - s / 2, c.y - s / 2, s, s);
    }
    tag(ctx, view, dpr, selected, boxCaption(selected), color);
  }
  const draft = draftRect(state);
  if (draft) {
    setImageTransform(ctx, view, dpr);
    ctx.lineWidth = 2 * px;
    ctx.strokeStyle = labelColor(state.labels, state.activeLabel);
    ctx.setLineDash([4 * px, 3 * px]);
    ctx.strokeRect(draft.x, draft.y, draft.w, draft.h);
    ctx.setLineDash([]);
  }
  const hover = state.boxes.find((b) => b.id === state.hoverId && b.id !== state.selectedId);
  if (hover && state.gesture.kind === "idle") {
    tag(ctx, view, dpr, hover, boxCaption(hover), isPrelabel(hover) ? PRELABEL_COLOR : labelColor(state.labels, hover.label));
  }
}
