/**
 * The box editor's state and its pure reducer: boxes in image pixels, selection, the view transform,
 * the pointer tool as a small state machine, and undo/redo. No DOM here; drawing is a function of this state.
 *
 * Tool machine: idle → pointing (button down) → drawing | moving | resizing | panning (after a few pixels) →
 * idle on release. Every gesture keeps a `mark` (the boxes before it): Esc restores the mark, and release
 * pushes the mark as ONE undo step, so a whole drag is undone at once.
 */

import {
  type Handle, HANDLES, type Point, type Rect, type ViewTransform, IDENTITY, clipToImage, containsPoint,
  fitTransform, handlePoint, oppositeCorner, rectFromPoints, screenToImage, zoomAt,
} from "./geometry";
import { unseenBoxes } from "./agreement";

export interface EditorBox extends Rect {
  id: number;
  label: string;
  /** `model`: a pre-label (the field model's, or the server model's on request); `person`: drawn here, or a
   * box of the rejected version being reworked. */
  origin: "model" | "person";
  /**
   * Whether the box is part of the answer. Pre-labels at or above the project's threshold start accepted (the
   * starting answer, stored unless deleted); those below are suggestions until accepted or edited.
   */
  accepted: boolean;
  score: number | null;
  trackId: number | null;
  /** The index into the claim's `prelabel.boxes` this box started from (sent with it, so the diff is honest). */
  prelabelIndex?: number | null;
}

interface Snapshot {
  boxes: readonly EditorBox[];
  selectedId: number | null;
}

type Target = { kind: "handle"; id: number; handle: Handle } | { kind: "box"; id: number } | { kind: "empty" };

export type Gesture =
  | { kind: "idle" }
  | { kind: "pointing"; screen: Point; target: Target; pan: boolean; mark: Snapshot }
  | { kind: "drawing"; from: Point; to: Point; mark: Snapshot }
  | { kind: "moving"; id: number; from: Point; original: Rect; mark: Snapshot }
  | { kind: "resizing"; id: number; anchor: Point; mark: Snapshot }
  | { kind: "panning"; from: Point; original: ViewTransform; mark: Snapshot };

export interface EditorState {
  image: { w: number; h: number };
  viewport: { w: number; h: number };
  view: ViewTransform;
  boxes: readonly EditorBox[];
  selectedId: number | null;
  hoverId: number | null;
  labels: readonly string[];
  activeLabel: string;
  showPrelabels: boolean;
  /** Brightness and contrast of the image layer only (1 = as captured): night clips are very dark. */
  imageFilter: ImageFilter;
  gesture: Gesture;
  past: readonly Snapshot[];
  future: readonly Snapshot[];
  nextId: number;
}

export interface ImageFilter {
  brightness: number;
  contrast: number;
}

export const NEUTRAL_FILTER: ImageFilter = { brightness: 1, contrast: 1 };
const FILTER_MIN = 0.2;
const FILTER_MAX = 5;

export type EditorAction =
  | { type: "load"; image: { w: number; h: number }; boxes: readonly EditorBox[]; labels: readonly string[];
      /** Keep zoom/pan and selection (the next frame of the same clip). */
      keepView?: boolean }
  | { type: "viewport"; w: number; h: number }
  /** `draw`: start a new rectangle even over a box (QA marks a comment region that way). */
  | { type: "pointer_down"; screen: Point; pan?: boolean; draw?: boolean }
  | { type: "pointer_move"; screen: Point }
  | { type: "pointer_up" }
  | { type: "cancel" }
  | { type: "select_next" }
  | { type: "select_prev" }
  | { type: "select"; id: number | null }
  | { type: "delete_selected" }
  | { type: "set_label"; index: number }
  | { type: "accept_all" }
  | { type: "add_box" }
  | { type: "nudge"; dx: number; dy: number; resize: boolean }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "zoom"; factor: number; anchor?: Point }
  | { type: "fit" }
  | { type: "pan_by"; dx: number; dy: number }
  | { type: "toggle_prelabels" }
  /** Multiply brightness/contrast of the image layer; boxes are unaffected. */
  | { type: "adjust_image"; brightness?: number; contrast?: number }
  | { type: "reset_image" }
  /** More model boxes (e.g. the server model's), added as pre-labels; one undo step. */
  | { type: "add_prelabels"; boxes: readonly EditorBox[] };

/** Screen pixels: how far a press must travel to become a drag, and how close a corner must be to grab it. */
export const DRAG_THRESHOLD_PX = 3;
export const HANDLE_PX = 8;
const UNDO_LIMIT = 200;

export function initialState(labels: readonly string[] = []): EditorState {
  return {
    image: { w: 0, h: 0 }, viewport: { w: 0, h: 0 }, view: IDENTITY, boxes: [], selectedId: null, hoverId: null,
    labels, activeLabel: labels[0] ?? "object", showPrelabels: true,
    imageFilter: NEUTRAL_FILTER,
    gesture: { kind: "idle" }, past: [], future: [], nextId: 1,
  };
}

/** Boxes the pointer and keyboard can reach: hidden pre-labels are out of play. */
export function visibleBoxes(state: EditorState): EditorBox[] {
  return state.boxes.filter((b) => isVisible(state, b));
}

function isVisible(state: EditorState, box: EditorBox): boolean {
  return state.showPrelabels || box.origin === "person" || box.accepted;
}

export function isPrelabel(box: EditorBox): boolean {
  return box.origin === "model" && !box.accepted;
}

/** Topmost handle of the selected box first, then any corner, then any body; in image pixels. */
export function hitTest(state: EditorState, p: Point): Target {
  const tolerance = HANDLE_PX / state.view.scale;
  const near = (box: EditorBox): Handle | null => {
    for (const handle of HANDLES) {
      const c = handlePoint(box, handle);
      if (Math.abs(c.x - p.x) <= tolerance && Math.abs(c.y - p.y) <= tolerance) return handle;
    }
    return null;
  };
  const selected = state.boxes.find((b) => b.id === state.selectedId && isVisible(state, b));
  if (selected) {
    const handle = near(selected);
    if (handle) return { kind: "handle", id: selected.id, handle };
  }
  for (let i = state.boxes.length - 1; i >= 0; i--) {
    const box = state.boxes[i]!;
    if (!isVisible(state, box)) continue;
    const handle = near(box);
    if (handle) return { kind: "handle", id: box.id, handle };
  }
  if (selected && containsPoint(selected, p)) return { kind: "box", id: selected.id };
  for (let i = state.boxes.length - 1; i >= 0; i--) {
    const box = state.boxes[i]!;
    if (isVisible(state, box) && containsPoint(box, p)) return { kind: "box", id: box.id };
  }
  return { kind: "empty" };
}

function snapshot(state: EditorState): Snapshot {
  return { boxes: state.boxes, selectedId: state.selectedId };
}

/** Record `mark` as one undo step if the boxes changed since it was taken. */
function pushUndo(state: EditorState, mark: Snapshot): EditorState {
  if (mark.boxes === state.boxes) return state;
  return { ...state, past: [...state.past, mark].slice(-UNDO_LIMIT), future: [] };
}

/** An immediate (non-gesture) edit: one undo step. */
function edit(state: EditorState, boxes: readonly EditorBox[], selectedId: number | null): EditorState {
  return pushUndo({ ...state, boxes, selectedId }, snapshot(state));
}

function replaceBox(boxes: readonly EditorBox[], id: number, rect: Rect): EditorBox[] {
  return boxes.map((b) => (b.id === id ? { ...b, ...rect, accepted: true } : b));
}

function moveWithin(original: Rect, dx: number, dy: number, image: { w: number; h: number }): Rect {
  const x = Math.min(Math.max(0, original.x + dx), Math.max(0, image.w - original.w));
  const y = Math.min(Math.max(0, original.y + dy), Math.max(0, image.h - original.h));
  return { x, y, w: original.w, h: original.h };
}

function cycle(state: EditorState, step: 1 | -1): EditorState {
  const boxes = visibleBoxes(state);
  if (boxes.length === 0) return state;
  const index = boxes.findIndex((b) => b.id === state.selectedId);
  const next = index < 0 ? (step === 1 ? 0 : boxes.length - 1) : (index + step + boxes.length) % boxes.length;
  return { ...state, selectedId: boxes[next]!.id };
}

function pointerMove(state: EditorState, screen: Point): EditorState {
  const g = state.gesture;
  const p = screenToImage(state.view, screen);
  switch (g.kind) {
    case "idle": {
      const target = hitTest(state, p);
      const hoverId = target.kind === "empty" ? null : target.id;
      return hoverId === state.hoverId ? state : { ...state, hoverId };
    }
    case "pointing": {
      if (Math.hypot(screen.x - g.screen.x, screen.y - g.screen.y) < DRAG_THRESHOLD_PX) return state;
      const start = screenToImage(state.view, g.screen);
      let next: EditorState;
      if (g.pan) {
        next = { ...state, gesture: { kind: "panning", from: g.screen, original: state.view, mark: g.mark } };
      } else if (g.target.kind === "handle") {
        const { id, handle } = g.target;
        const box = state.boxes.find((b) => b.id === id)!;
        next = { ...state, selectedId: id,
                 gesture: { kind: "resizing", id, anchor: oppositeCorner(box, handle), mark: g.mark } };
      } else if (g.target.kind === "box") {
        const { id } = g.target;
        const box = state.boxes.find((b) => b.id === id)!;
        next = { ...state, selectedId: id,
                 gesture: { kind: "moving", id, from: start, original: { x: box.x, y: box.y, w: box.w, h: box.h },
                            mark: g.mark } };
      } else {
        next = { ...state, selectedId: null, gesture: { kind: "drawing", from: start, to: start, mark: g.mark } };
      }
      return pointerMove(next, screen);
    }
    case "drawing":
      return { ...state, gesture: { ...g, to: p } };
    case "moving": {
      const rect = moveWithin(g.original, p.x - g.from.x, p.y - g.from.y, state.image);
      return { ...state, boxes: replaceBox(state.boxes, g.id, rect) };
    }
    case "resizing": {
      const rect = clipToImage(rectFromPoints(g.anchor, p), state.image);
      if (!rect || rect.w < 1 || rect.h < 1) return state;
      return { ...state, boxes: replaceBox(state.boxes, g.id, rect) };
    }
    case "panning":
      return { ...state, view: { ...g.original, tx: g.original.tx + screen.x - g.from.x,
                                 ty: g.original.ty + screen.y - g.from.y } };
  }
}

function pointerUp(state: EditorState): EditorState {
  const g = state.gesture;
  const idle = { ...state, gesture: { kind: "idle" } as const };
  switch (g.kind) {
    case "idle":
      return state;
    case "pointing":
      return { ...idle, selectedId: g.target.kind === "empty" ? null : g.target.id };
    case "drawing": {
      const rect = clipToImage(rectFromPoints(g.from, g.to), state.image);
      if (!rect || rect.w * state.view.scale < DRAG_THRESHOLD_PX || rect.h * state.view.scale < DRAG_THRESHOLD_PX) {
        return idle;
      }
      const box: EditorBox = { id: state.nextId, ...rect, label: state.activeLabel, origin: "person", accepted: true,
                               score: null, trackId: null };
      return pushUndo({ ...idle, boxes: [...state.boxes, box], selectedId: box.id, nextId: state.nextId + 1 }, g.mark);
    }
    case "moving":
    case "resizing":
    case "panning":
      return pushUndo(idle, g.mark);
  }
}

export function editorReducer(state: EditorState, action: EditorAction): EditorState {
  switch (action.type) {
    case "load": {
      const nextId = action.boxes.reduce((max, b) => Math.max(max, b.id), 0) + 1;
      const fresh = initialState(action.labels);
      return { ...fresh, viewport: state.viewport, image: action.image, boxes: action.boxes, nextId,
               showPrelabels: state.showPrelabels, imageFilter: state.imageFilter, activeLabel: action.labels.includes(state.activeLabel)
                 ? state.activeLabel : fresh.activeLabel,
               view: fitTransform(action.image, state.viewport),
               ...(action.keepView ? { view: state.view, selectedId: state.selectedId } : {}) };
    }
    case "viewport": {
      const fit = state.view === IDENTITY || state.viewport.w === 0;
      const next = { ...state, viewport: { w: action.w, h: action.h } };
      return fit ? { ...next, view: fitTransform(state.image, next.viewport) } : next;
    }
    case "pointer_down": {
      if (state.gesture.kind !== "idle") return state;
      const target: Target = action.draw ? { kind: "empty" } : hitTest(state, screenToImage(state.view, action.screen));
      return { ...state, gesture: { kind: "pointing", screen: action.screen, target, pan: action.pan ?? false,
                                    mark: snapshot(state) } };
    }
    case "pointer_move":
      return pointerMove(state, action.screen);
    case "pointer_up":
      return pointerUp(state);
    case "cancel": {
      const g = state.gesture;
      if (g.kind === "idle") return state.selectedId === null ? state : { ...state, selectedId: null };
      const view = g.kind === "panning" ? g.original : state.view;
      return { ...state, view, boxes: g.mark.boxes, selectedId: g.mark.selectedId, gesture: { kind: "idle" } };
    }
    case "select_next":
      return cycle(state, 1);
    case "select_prev":
      return cycle(state, -1);
    case "select":
      return { ...state, selectedId: action.id };
    case "delete_selected": {
      if (state.selectedId === null || state.gesture.kind !== "idle") return state;
      return edit(state, state.boxes.filter((b) => b.id !== state.selectedId), null);
    }
    case "set_label": {
      const label = state.labels[action.index];
      if (label === undefined) return state;
      const withLabel = { ...state, activeLabel: label };
      if (state.selectedId === null || state.gesture.kind !== "idle") return withLabel;
      const boxes = state.boxes.map((b) => (b.id === state.selectedId ? { ...b, label, accepted: true } : b));
      return edit(withLabel, boxes, state.selectedId);
    }
    case "accept_all": {
      if (!state.boxes.some(isPrelabel)) return state;
      return edit(state, state.boxes.map((b) => (isPrelabel(b) ? { ...b, accepted: true } : b)), state.selectedId);
    }
    case "add_prelabels": {
      if (action.boxes.length === 0) return state;
      // The caller decides which are accepted (the threshold rule, boxesFromDetections); ids are renumbered here.
      const added = action.boxes.map((b, i) => ({ ...b, id: state.nextId + i, origin: "model" as const }));
      return { ...edit(state, [...state.boxes, ...added], state.selectedId), nextId: state.nextId + added.length };
    }
    case "add_box": {
      // A keyboard-made box: a fifth of the visible image, centred in the view; arrows then move/resize it.
      const centre = screenToImage(state.view, { x: state.viewport.w / 2, y: state.viewport.h / 2 });
      const size = Math.max(4, Math.min(state.image.w, state.image.h) / 5);
      const rect = clipToImage({ x: centre.x - size / 2, y: centre.y - size / 2, w: size, h: size }, state.image);
      if (!rect) return state;
      const box: EditorBox = { id: state.nextId, ...rect, label: state.activeLabel, origin: "person",
                               accepted: true, score: null, trackId: null };
      return { ...edit(state, [...state.boxes, box], box.id), nextId: state.nextId + 1 };
    }
    case "nudge": {
      const box = state.boxes.find((b) => b.id === state.selectedId);
      if (!box || state.gesture.kind !== "idle") return state;
      const rect = action.resize
        ? clipToImage({ x: box.x, y: box.y, w: Math.max(1, box.w + action.dx), h: Math.max(1, box.h + action.dy) },
                      state.image)
        : moveWithin(box, action.dx, action.dy, state.image);
      return rect ? edit(state, replaceBox(state.boxes, box.id, rect), box.id) : state;
    }
    case "undo": {
      const previous = state.past[state.past.length - 1];
      if (!previous || state.gesture.kind !== "idle") return state;
      return { ...state, ...previous, past: state.past.slice(0, -1), future: [...state.future, snapshot(state)] };
    }
    case "redo": {
      const next = state.future[state.future.length - 1];
      if (!next || state.gesture.kind !== "idle") return state;
      return { ...state, ...next, future: state.future.slice(0, -1), past: [...state.past, snapshot(state)] };
    }
    case "zoom": {
      const anchor = action.anchor ?? { x: state.viewport.w / 2, y: state.viewport.h / 2 };
      return { ...state, view: zoomAt(state.view, anchor, action.factor) };
    }
    case "fit":
      return { ...state, view: fitTransform(state.image, state.viewport) };
    case "pan_by":
      return { ...state, view: { ...state.view, tx: state.view.tx + action.dx, ty: state.view.ty + action.dy } };
    case "adjust_image": {
      const clamp = (v: number) => Math.min(FILTER_MAX, Math.max(FILTER_MIN, Math.round(v * 100) / 100));
      const f = state.imageFilter;
      return { ...state, imageFilter: { brightness: clamp(f.brightness * (action.brightness ?? 1)),
                                        contrast: clamp(f.contrast * (action.contrast ?? 1)) } };
    }
    case "reset_image":
      return { ...state, imageFilter: NEUTRAL_FILTER };
    case "toggle_prelabels": {
      const showPrelabels = !state.showPrelabels;
      const selected = state.boxes.find((b) => b.id === state.selectedId);
      const keep = showPrelabels || !selected || !isPrelabel(selected);
      return { ...state, showPrelabels, selectedId: keep ? state.selectedId : null };
    }
  }
}

/** The rubber band of a box being drawn, in image pixels (for the overlay layer). */
export function draftRect(state: EditorState): Rect | null {
  const g = state.gesture;
  return g.kind === "drawing" ? rectFromPoints(g.from, g.to) : null;
}

type DetectionLike = { label: string; score: number; box: readonly number[]; track_id?: number | null };

/**
 * Boxes from a claim's pre-label, ready to load: at or above `threshold` they are the starting answer
 * (accepted), below it dashed suggestions. `indexed` (the claim's own pre-label) records each box's index
 * into `prelabel.boxes`; the server model's boxes on request are not indexed.
 */
export function boxesFromDetections(detections: readonly DetectionLike[], threshold = 0.5,
                                    { indexed = true }: { indexed?: boolean } = {}): EditorBox[] {
  return detections.map((d, i) => ({
    id: i + 1, x: d.box[0] ?? 0, y: d.box[1] ?? 0, w: d.box[2] ?? 0, h: d.box[3] ?? 0, label: d.label,
    origin: "model", accepted: d.score >= threshold, score: d.score, trackId: d.track_id ?? null,
    prelabelIndex: indexed ? i : null,
  }));
}

/** The rejected version's boxes, to rework: the person's own answer, nothing to accept. */
export function boxesFromVersion(
  boxes: readonly { label: string; box: readonly number[]; track_id?: number | null }[],
): EditorBox[] {
  return boxes.map((b, i) => ({
    id: i + 1, x: b.box[0] ?? 0, y: b.box[1] ?? 0, w: b.box[2] ?? 0, h: b.box[3] ?? 0, label: b.label,
    origin: "person", accepted: true, score: null, trackId: b.track_id ?? null, prelabelIndex: null,
  }));
}


/** The incoming boxes (e.g. the server model's) that are not already on the frame (editor/agreement.ts). */
export function newBoxes(existing: readonly EditorBox[], incoming: readonly EditorBox[]): EditorBox[] {
  return unseenBoxes(existing, incoming);
}

/** Suggestions not accepted: they will not be stored (hidden ones included). */
export function suggestionsLeft(state: EditorState): number {
  return state.boxes.filter(isPrelabel).length;
}

export interface SubmittedEditorBox {
  label: string;
  box: number[];
  prelabel_index?: number;
}

/**
 * What the annotator submits, in image pixels, [x, y, w, h]: every box on the frame except suggestions not
 * accepted — starting boxes the person left untouched are part of the answer. A box that started from the
 * claim's pre-label carries its index so the stored diff says kept / moved / relabelled honestly.
 */
export function submittedBoxes(state: EditorState): SubmittedEditorBox[] {
  const round = (v: number) => Math.round(v * 100) / 100;
  return state.boxes
    .filter((b) => !isPrelabel(b))
    .map((b) => ({ label: b.label, box: [round(b.x), round(b.y), round(b.w), round(b.h)],
                   ...(b.prelabelIndex != null ? { prelabel_index: b.prelabelIndex } : {}) }));
}
