import { describe, expect, it } from "vitest";
import { type CountingLine, crossings, netCount } from "../src/clip/crossing";
import { type Track, boxAt, expandTracks, setKeyframe } from "../src/clip/tracks";

const track = (id: number, keys: [number, number, number][]): Track => ({
  id, label: "person", keyframes: keys.map(([frame, x, y]) => ({ frame, box: { x, y, w: 10, h: 20 } })),
});

describe("track interpolation", () => {
  it("blends linearly between keyframes and exists only between the first and the last", () => {
    const t = track(1, [[0, 0, 0], [10, 100, 50]]);
    expect(boxAt(t, 5)).toEqual({ x: 50, y: 25, w: 10, h: 20 });
    expect(boxAt(t, 10)).toEqual({ x: 100, y: 50, w: 10, h: 20 });
    expect(boxAt(t, 11)).toBeNull();
    expect(boxAt(t, -1)).toBeNull();
  });

  it("correcting one frame moves the frames between its neighbours only", () => {
    const t = setKeyframe(track(1, [[0, 0, 0], [20, 200, 0]]), 10, { x: 0, y: 0, w: 10, h: 20 });
    expect(t.keyframes.map((k) => k.frame)).toEqual([0, 10, 20]);
    expect(boxAt(t, 5)!.x).toBe(0);
    expect(boxAt(t, 15)!.x).toBe(100);
  });

  it("expands tracks into per-frame boxes with frame_index and track_id", () => {
    const boxes = expandTracks([track(7, [[2, 0, 0], [4, 20, 0]])]);
    expect(boxes.map((b) => [b.frame_index, b.box[0], b.track_id])).toEqual([[2, 0, 7], [3, 10, 7], [4, 20, 7]]);
  });
});

describe("line crossing", () => {
  // A horizontal line y = 100 from x = 0 to 200; a box's anchor is its bottom centre (x + 5, y + 20).
  const line: CountingLine = { a: { x: 0, y: 100 }, b: { x: 200, y: 100 } };

  it("reports the frame and direction of each crossing", () => {
    const down = track(1, [[0, 50, 0], [10, 50, 160]]); // anchor y from 20 to 180: crosses near frame 5
    const up = track(2, [[0, 100, 160], [10, 100, 0]]);
    const events = crossings([down, up], line);
    expect(events).toEqual([
      { trackId: 1, frame: 6, direction: "in" },
      { trackId: 2, frame: 6, direction: "out" },
    ]);
    expect(netCount(events)).toBe(0);
  });

  it("ignores tracks that pass beside the segment or only touch it", () => {
    const beside = track(3, [[0, 400, 0], [10, 400, 160]]);
    const touching = track(4, [[0, 50, 0], [10, 50, 80]]); // anchor reaches y = 100 and stops
    expect(crossings([beside, touching], line)).toEqual([]);
  });
});
