import { describe, expect, it } from "vitest";
import { type ClipAction, type ClipState, clipReducer, initialClipState } from "../src/clip/clipState";
import { endpointAt, moveEndpoint } from "../src/clip/line";
import { mergeDetections } from "../src/clip/merge";
import { type Track, describeTrackStatus, trackStatus } from "../src/clip/tracks";

const track: Track = { id: 3, label: "person", keyframes: [{ frame: 2, box: { x: 0, y: 0, w: 10, h: 20 } },
                                                           { frame: 10, box: { x: 100, y: 0, w: 10, h: 20 } }] };

function start(tracks: Track[] = [track]): ClipState {
  const s = initialClipState({ image: { w: 640, h: 360 }, labels: ["person"], tracks, frameCount: 20 });
  return { ...s, editor: { ...s.editor, view: { scale: 1, tx: 0, ty: 0 }, viewport: { w: 640, h: 360 } } };
}
const run = (s: ClipState, ...actions: ClipAction[]) => actions.reduce(clipReducer, s);

describe("Home / End", () => {
  it("jump to the first and the last frame", () => {
    const s = run(start(), { type: "frame", frame: 7 });
    expect(run(s, { type: "jump", to: "last" }).frame).toBe(19);
    expect(run(s, { type: "jump", to: "first" }).frame).toBe(0);
    const last = run(s, { type: "jump", to: "last" });
    expect(run(last, { type: "jump", to: "last" })).toBe(last); // already there: nothing changes
  });
});

describe("track status past its keyframes", () => {
  it("says interpolated only between keyframes, and not tracked outside them", () => {
    expect(trackStatus(track, 2)).toBe("keyframe");
    expect(trackStatus(track, 5)).toBe("interpolated");
    expect(trackStatus(track, 11)).toBe("after last keyframe");
    expect(trackStatus(track, 1)).toBe("before first keyframe");
    expect(describeTrackStatus(track, 14)).toContain("not tracked here");
    expect(describeTrackStatus(track, 14)).toContain("frame 11");
    expect(describeTrackStatus(track, 14)).not.toContain("interpolated");
  });

  it("the selected track extends past its last keyframe from there", () => {
    const s = run(start(), { type: "frame", frame: 10 }, { type: "select", id: 3 }, { type: "jump", to: "last" },
                  { type: "keyframe_here" });
    expect(s.tracks[0]!.keyframes.map((k) => k.frame)).toEqual([2, 10, 19]);
    expect(trackStatus(s.tracks[0]!, 19)).toBe("keyframe");
    expect(trackStatus(s.tracks[0]!, 15)).toBe("interpolated");
  });
});

describe("server boxes for a frame", () => {
  it("merge by IoU: a box on an existing track is not stacked, a new one starts a track", () => {
    const detections = [{ label: "person", box: [51, 1, 10, 20] }, { label: "person", box: [300, 100, 40, 80] },
                        { label: "car", box: [0, 0, 5, 5] }];
    const merged = mergeDetections([track], 6, detections, ["person"]); // track 3 is at x 50 on frame 6
    expect(merged.added).toBe(1);
    expect(merged.matched).toBe(1);
    expect(merged.tracks.map((t) => t.id)).toEqual([3, 4]);
    expect(merged.tracks[1]!.keyframes).toEqual([{ frame: 6, box: { x: 300, y: 100, w: 40, h: 80 } }]);
    // Asking again for the same frame adds nothing.
    expect(mergeDetections(merged.tracks, 6, detections, ["person"]).added).toBe(0);
  });

  it("is one undo step in the clip reviewer", () => {
    let s = run(start(), { type: "frame", frame: 6 },
                { type: "merge_detections", frame: 6, detections: [{ label: "person", box: [300, 100, 40, 80] }] });
    expect(s.editor.boxes).toHaveLength(2);
    s = run(s, { type: "undo" });
    expect(s.tracks).toHaveLength(1);
  });
});

describe("track ids", () => {
  it("a new track never takes the id of a deleted one", () => {
    const two: Track = { id: 4, label: "person", keyframes: [{ frame: 0, box: { x: 300, y: 0, w: 10, h: 20 } }] };
    let s = run(start([track, two]), { type: "frame", frame: 2 }, { type: "select", id: 3 }, { type: "select", id: 4 });
    s = run(s, { type: "frame", frame: 0 }, { type: "select", id: 4 }, { type: "delete_selected" });
    expect(s.tracks.map((t) => t.id)).toEqual([3]);
    s = run(s, { type: "pointer_down", screen: { x: 400, y: 200 } }, { type: "pointer_move", screen: { x: 430, y: 240 } },
            { type: "pointer_up" });
    expect(s.tracks.map((t) => t.id)).toEqual([3, 5]);
    expect(s.editor.selectedId).toBe(5); // the box just drawn stays selected, as its track
  });
});

describe("dragging the counting line", () => {
  const line = { a: { x: 0, y: 180 }, b: { x: 640, y: 180 } };
  const view = { scale: 0.5, tx: 10, ty: 20 }; // image (0,180) is at screen (10,110)

  it("grabs the endpoint under the pointer, within a few screen pixels", () => {
    expect(endpointAt(line, view, { x: 12, y: 113 })).toBe("a");
    expect(endpointAt(line, view, { x: 330, y: 110 })).toBe("b");
    expect(endpointAt(line, view, { x: 170, y: 110 })).toBeNull(); // the middle of the line
  });

  it("moves it in image pixels, kept inside the image", () => {
    expect(moveEndpoint(line, "a", view, { x: 60, y: 70 }, { w: 640, h: 360 })).toEqual({ a: { x: 100, y: 100 }, b: line.b });
    expect(moveEndpoint(line, "b", view, { x: 900, y: -50 }, { w: 640, h: 360 }).b).toEqual({ x: 640, y: 0 });
  });
});
