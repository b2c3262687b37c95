import { describe, expect, it } from "vitest";
import type { ClaimedItem } from "../src/api/shapes";
import { modelCaption, startingTracks, tracksFromPrelabel } from "../src/views/clip/prelabel";

const base = { id: 1, project: 1, reason: "disputed", priority: 0, score_parts: {}, status: "leased", site: null,
               camera: null, lease_token: "t", lease_expires_at: null, last_comment: "", last_comment_region: null, asset: null } as const;

describe("tracks from a clip's pre-label", () => {
  it("makes one keyframe per detection on its frame, grouped by track id", () => {
    const item: ClaimedItem = { ...base, prelabel: {
      prediction: 1, model: { name: "m", version: "1" }, frame_index: null, count: 3, captured_at: "",
      boxes: [{ label: "person", score: 0.9, box: [0, 0, 10, 10], track_id: 4, frame_index: 2 },
              { label: "person", score: 0.9, box: [5, 0, 10, 10], track_id: 4, frame_index: 0 },
              { label: "person", score: 0.5, box: [50, 0, 10, 10] }] } };
    const tracks = tracksFromPrelabel(item);
    expect(tracks.map((t) => [t.id, t.keyframes.map((k) => k.frame)])).toEqual([[4, [0, 2]], [5, [0]]]);
  });
});

describe("a dispute's device tracks and model name", () => {
  it("takes the device's own boxes when the dispute came without any", () => {
    const item: ClaimedItem = { ...base, prelabel: {
      prediction: 1, model: { name: "", version: "" }, frame_index: null, count: 5, captured_at: "", boxes: [] },
      dispute: { count_name: "boarding", second_opinion: { source: "ticketing", count: 5 },
                 device: { prediction: 2, count: 3, frame_index: 12, model: { name: "people-det", version: "3" },
                           boxes: [{ label: "person", score: 0.9, box: [0, 0, 10, 10], track_id: 1 }] } } };
    expect(tracksFromPrelabel(item).map((t) => [t.id, t.keyframes.map((k) => k.frame)])).toEqual([[1, [12]]]);
  });

  it("never shows a blank model name", () => {
    expect(modelCaption({ name: "people-det", version: "3" })).toBe("people-det v3");
    expect(modelCaption({ name: "", version: "" })).toContain("not named");
    expect(modelCaption(null)).toContain("not named");
  });
});

describe("a rejected clip coming back", () => {
  it("starts from the rejected version's tracks, not the model's", () => {
    const item: ClaimedItem = { ...base, prelabel: {
      prediction: 1, model: { name: "m", version: "1" }, frame_index: null, count: 3, captured_at: "",
      boxes: [{ label: "person", score: 0.9, box: [0, 0, 10, 10], track_id: 4, frame_index: 2 }] },
      rework: { version: 2, author: "alice", count: 4, verdict: "correct", note: "", comment: "track 7 is a bag",
                region: null, boxes: [{ label: "person", box: [1, 1, 5, 5], frame_index: 0, track_id: 7 },
                                      { label: "person", box: [3, 1, 5, 5], frame_index: 6, track_id: 7 },
                                      { label: "bag", box: [9, 9, 5, 5], frame_index: 3, track_id: 8 }] } };
    expect(startingTracks(item).map((t) => [t.id, t.label, t.keyframes.map((k) => k.frame)]))
      .toEqual([[7, "person", [0, 6]], [8, "bag", [3]]]);
    expect(startingTracks({ ...item, rework: null }).map((t) => t.id)).toEqual([4]);
  });
});
