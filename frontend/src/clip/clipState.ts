/**
 * The clip reviewer's state as one pure reducer around the editor's: the tracks, the current frame, and the
 * editor showing the tracks' boxes on that frame. An editor edit that ends (gesture back to idle, boxes
 * changed) becomes keyframes on the current frame — a moved box pins its track there, a new box starts a
 * track, a deleted box removes its track — and the editor is reloaded from the tracks. Undo/redo work on
 * the tracks, so a drag is still one step. Keeping this out of effects means no render can see half of it.
 */

import type { Rect } from "../editor/geometry";
import { type EditorAction, type EditorBox, type EditorState, editorReducer, initialState } from "../editor/state";
import { type FrameDetection, mergeDetections } from "./merge";
import { type Track, boxAt, setKeyframe } from "./tracks";

export interface ClipState {
  editor: EditorState;
  tracks: readonly Track[];
  frame: number;
  frameCount: number;
  /** The boxes loaded into the editor for this frame: what an edit is compared against. */
  shown: readonly EditorBox[];
  past: readonly (readonly Track[])[];
  future: readonly (readonly Track[])[];
  /** The id a new track gets: never one a deleted track had, so a model track's id is never reused. */
  nextTrackId: number;
}

export type ClipAction =
  | EditorAction
  | { type: "frame"; frame: number }
  | { type: "step"; delta: number }
  | { type: "keyframe_here" }
  /** Home / End: the clip's first or last frame. */
  | { type: "jump"; to: "first" | "last" }
  /** The server model's boxes for `frame`, merged with the tracks there (one undo step). */
  | { type: "merge_detections"; frame: number; detections: readonly FrameDetection[] };

const UNDO_LIMIT = 200;

export function boxesOnFrame(tracks: readonly Track[], frame: number): EditorBox[] {
  const boxes: EditorBox[] = [];
  for (const t of tracks) {
    const r = boxAt(t, frame);
    if (r) boxes.push({ id: t.id, ...r, label: t.label, origin: "person", accepted: true, score: null, trackId: t.id });
  }
  return boxes;
}

function sameRect(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}

/** The tracks after an edit on `frame` that turned `shown` into `edited`; the same array if nothing changed. */
export function applyEdit(tracks: readonly Track[], frame: number, shown: readonly EditorBox[],
                          edited: readonly EditorBox[], firstNewId = maxTrackId(tracks) + 1): readonly Track[] {
  const before = new Map(shown.map((b) => [b.id, b]));
  const after = new Map(edited.map((b) => [b.id, b]));
  let changed = false;
  const next: Track[] = [];
  for (const t of tracks) {
    const was = before.get(t.id);
    const box = after.get(t.id);
    if (was && !box) {
      changed = true; // deleted on this frame: the whole track goes
      continue;
    }
    if (was && box && (!sameRect(was, box) || was.label !== box.label)) {
      changed = true;
      next.push({ ...setKeyframe(t, frame, box), label: box.label });
    } else {
      next.push(t);
    }
  }
  let nextId = firstNewId;
  for (const box of edited) {
    if (before.has(box.id)) continue;
    changed = true;
    next.push({ id: nextId++, label: box.label, keyframes: [{ frame, box: { x: box.x, y: box.y, w: box.w, h: box.h } }] });
  }
  return changed ? next : tracks;
}

function maxTrackId(tracks: readonly Track[]): number {
  return tracks.reduce((max, t) => Math.max(max, t.id), 0);
}

function show(state: ClipState, tracks: readonly Track[], frame: number): ClipState {
  const shown = boxesOnFrame(tracks, frame);
  const editor = editorReducer(state.editor, { type: "load", image: state.editor.image, boxes: shown,
                                               labels: state.editor.labels, keepView: true });
  return { ...state, tracks, frame, shown, editor };
}

export function initialClipState(args: { image: { w: number; h: number }; labels: readonly string[];
                                         tracks: readonly Track[]; frameCount: number }): ClipState {
  const shown = boxesOnFrame(args.tracks, 0);
  const editor = editorReducer(initialState(args.labels), { type: "load", image: args.image, boxes: shown,
                                                            labels: args.labels });
  return { editor, tracks: args.tracks, frame: 0, frameCount: Math.max(1, args.frameCount), shown, past: [], future: [],
           nextTrackId: maxTrackId(args.tracks) + 1 };
}

function withTracks(state: ClipState, tracks: readonly Track[]): ClipState {
  if (tracks === state.tracks) return state;
  return show({ ...state, past: [...state.past, state.tracks].slice(-UNDO_LIMIT), future: [],
                nextTrackId: Math.max(state.nextTrackId, maxTrackId(tracks) + 1) }, tracks, state.frame);
}

export function clipReducer(state: ClipState, action: ClipAction): ClipState {
  const idle = state.editor.gesture.kind === "idle";
  switch (action.type) {
    case "frame":
    case "step":
    case "jump": {
      if (!idle) return state;
      const target = action.type === "frame" ? action.frame
        : action.type === "jump" ? (action.to === "first" ? 0 : state.frameCount - 1)
          : state.frame + action.delta;
      const frame = Math.min(state.frameCount - 1, Math.max(0, Math.round(target)));
      return frame === state.frame ? state : show(state, state.tracks, frame);
    }
    case "undo": {
      const previous = state.past[state.past.length - 1];
      if (!previous || !idle) return state;
      return show({ ...state, past: state.past.slice(0, -1), future: [...state.future, state.tracks] }, previous,
                  state.frame);
    }
    case "redo": {
      const next = state.future[state.future.length - 1];
      if (!next || !idle) return state;
      return show({ ...state, future: state.future.slice(0, -1), past: [...state.past, state.tracks] }, next,
                  state.frame);
    }
    case "keyframe_here": {
      // Pin (or extend) the selected track on this frame, from its box here or its nearest keyframe.
      const track = state.tracks.find((t) => t.id === state.editor.selectedId);
      if (!track || !idle) return state;
      const nearest = [...track.keyframes].sort((p, q) => Math.abs(p.frame - state.frame) - Math.abs(q.frame - state.frame))[0];
      const box = boxAt(track, state.frame) ?? nearest?.box;
      if (!box) return state;
      return withTracks(state, state.tracks.map((t) => (t.id === track.id ? setKeyframe(t, state.frame, box) : t)));
    }
    case "merge_detections": {
      if (!idle) return state;
      return withTracks(state, mergeDetections(state.tracks, action.frame, action.detections, state.editor.labels,
                                               state.nextTrackId).tracks);
    }
    default: {
      const editor = editorReducer(state.editor, action);
      if (editor === state.editor) return state;
      const next = { ...state, editor };
      // Compared with what was loaded, not with the previous step: a drag changes the boxes while it moves
      // and only the release (which changes nothing itself) makes the edit final.
      if (editor.gesture.kind !== "idle" || editor.boxes === state.shown) return next;
      const tracks = applyEdit(state.tracks, state.frame, state.shown, editor.boxes, state.nextTrackId);
      // A box drawn here became a track with a new id (applyEdit numbers them in order): keep it selected.
      const shownIds = new Set(state.shown.map((b) => b.id));
      const drawnAt = editor.boxes.filter((b) => !shownIds.has(b.id)).findIndex((b) => b.id === editor.selectedId);
      const selectedId = drawnAt >= 0 ? state.nextTrackId + drawnAt : editor.selectedId;
      return withTracks({ ...next, editor: { ...editor, selectedId } }, tracks);
    }
  }
}
