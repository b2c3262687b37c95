import { describe, expect, it } from "vitest";
import { applyEdit, type ClipAction, type ClipState, clipReducer, initialClipState } from "../src/clip/clipState";
import type { Track } from "../src/clip/tracks";

const track: Track = { id: 3, label: "person", keyframes: [{ frame: 0, box: { x: 0, y: 0, w: 10, h: 20 } },
                                                           { frame: 10, box: { x: 100, y: 0, w: 10, h: 20 } }] };

function start(tracks: Track[] = [track]): ClipState {
  const s = initialClipState({ image: { w: 640, h: 360 }, labels: ["person"], tracks, frameCount: 20 });
  return { ...s, editor: { ...s.editor, view: { scale: 1, tx: 0, ty: 0 }, viewport: { w: 640, h: 360 } } };
}
const run = (s: ClipState, ...actions: ClipAction[]) => actions.reduce(clipReducer, s);
const drag = (from: [number, number], to: [number, number]): ClipAction[] => [
  { type: "pointer_down", screen: { x: from[0], y: from[1] } },
  { type: "pointer_move", screen: { x: (from[0] + to[0]) / 2, y: (from[1] + to[1]) / 2 } },
  { type: "pointer_move", screen: { x: to[0], y: to[1] } },
  { type: "pointer_up" },
];

describe("clip reviewer state", () => {
  it("shows the interpolated boxes of the current frame", () => {
    const s = run(start(), { type: "frame", frame: 5 });
    expect(s.editor.boxes).toEqual([expect.objectContaining({ id: 3, x: 50, y: 0, trackId: 3 })]);
    expect(run(s, { type: "step", delta: 10 }).editor.boxes).toHaveLength(0); // past the last keyframe
    expect(run(s, { type: "step", delta: -100 }).frame).toBe(0);
  });

  it("a drag on a frame pins a keyframe there and the frames between follow; one undo step", () => {
    let s = run(start(), { type: "frame", frame: 5 }, ...drag([55, 10], [55, 110]));
    expect(s.tracks[0]!.keyframes.map((k) => k.frame)).toEqual([0, 5, 10]);
    expect(s.editor.boxes[0]).toMatchObject({ x: 50, y: 100 });
    s = run(s, { type: "frame", frame: 3 });
    expect(s.editor.boxes[0]).toMatchObject({ x: 30, y: 60 });
    s = run(s, { type: "undo" });
    expect(s.tracks[0]!.keyframes).toHaveLength(2);
    expect(s.editor.boxes[0]).toMatchObject({ x: 30, y: 0 });
    expect(run(s, { type: "redo" }).tracks[0]!.keyframes).toHaveLength(3);
  });

  it("drawing starts a new track with an id of its own; delete removes the track", () => {
    let s = run(start(), { type: "frame", frame: 15 }, ...drag([200, 200], [260, 300]));
    expect(s.tracks.map((t) => t.id)).toEqual([3, 4]);
    expect(s.tracks[1]!.keyframes).toEqual([{ frame: 15, box: { x: 200, y: 200, w: 60, h: 100 } }]);
    s = run(s, { type: "frame", frame: 2 }, { type: "select", id: 3 }, { type: "delete_selected" });
    expect(s.tracks.map((t) => t.id)).toEqual([4]);
  });

  it("extends the selected track to a later frame", () => {
    const s = run(start(), { type: "frame", frame: 10 }, { type: "select", id: 3 }, { type: "frame", frame: 14 },
                  { type: "keyframe_here" });
    expect(s.tracks[0]!.keyframes.map((k) => k.frame)).toEqual([0, 10, 14]);
    expect(s.editor.boxes[0]).toMatchObject({ x: 100 });
  });

  it("settles: selection, hover and view changes leave the tracks as they are", () => {
    const s = start();
    const after = run(s, { type: "select", id: 3 }, { type: "zoom", factor: 2 }, { type: "viewport", w: 800, h: 600 },
                      { type: "pointer_move", screen: { x: 5, y: 5 } });
    expect(after.tracks).toBe(s.tracks);
    expect(applyEdit(s.tracks, 0, s.shown, s.shown)).toBe(s.tracks);
  });
});
