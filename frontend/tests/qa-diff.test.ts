import { describe, expect, it } from "vitest";
import { classifyDiff, countDiff, describeDiff, sameBoxes } from "../src/views/qa/diff";

const person = (x: number, y: number, w = 20, h = 40) => ({ label: "person", box: [x, y, w, h] });

describe("QA diff classification", () => {
  it("tells kept, moved, relabelled, added and deleted boxes apart", () => {
    const before = [person(0, 0), person(100, 0), person(200, 0), person(300, 0)];
    const after = [
      person(0, 0), // kept
      person(104, 0), // moved: IoU 0.67
      { label: "child", box: [200, 0, 20, 40] }, // relabelled
      person(500, 0), // added (person(300, 0) deleted)
    ];
    const entries = classifyDiff(before, after);
    expect(entries.map((e) => e.kind)).toEqual(["kept", "moved", "relabelled", "deleted", "added"]);
    expect(entries[1]!.before!.box).toEqual([100, 0, 20, 40]);
    expect(entries[1]!.after!.box).toEqual([104, 0, 20, 40]);
    expect(entries[3]!.after).toBeNull();
    expect(entries[4]!.before).toBeNull();
    expect(countDiff(entries)).toEqual({ kept: 1, moved: 1, relabelled: 1, added: 1, deleted: 1 });
    expect(describeDiff(countDiff(entries))).toBe("1 moved, 1 relabelled, 1 added, 1 deleted");
  });

  it("keeps a box nudged by less than the server's moved threshold (IoU ≥ 0.95)", () => {
    expect(classifyDiff([person(0, 0, 100, 100)], [person(1, 0, 100, 100)])[0]!.kind).toBe("kept");
    expect(classifyDiff([person(0, 0, 100, 100)], [person(4, 0, 100, 100)])[0]!.kind).toBe("moved");
  });

  it("matches one to one, best overlap first, and does not match below IoU 0.5", () => {
    const entries = classifyDiff([person(0, 0), person(3, 0)], [person(3, 0)]);
    expect(entries.map((e) => [e.kind, e.before?.box[0] ?? null])).toEqual([["kept", 3], ["deleted", 0]]);
    expect(classifyDiff([person(0, 0)], [person(15, 0)]).map((e) => e.kind)).toEqual(["deleted", "added"]);
  });

  it("handles empty sides", () => {
    expect(classifyDiff([], [])).toEqual([]);
    expect(classifyDiff([], [person(0, 0)]).map((e) => e.kind)).toEqual(["added"]);
    expect(describeDiff(countDiff(classifyDiff([person(0, 0)], [person(0, 0)])))).toBe("no change");
  });

  it("knows when the reviewer changed nothing", () => {
    expect(sameBoxes([person(1.001, 2)], [person(1, 2)])).toBe(true);
    expect(sameBoxes([person(1, 2)], [person(1, 3)])).toBe(false);
    expect(sameBoxes([person(1, 2)], [{ label: "child", box: [1, 2, 20, 40] }])).toBe(false);
    expect(sameBoxes([person(1, 2)], [])).toBe(false);
  });
});

describe("the next QA item", () => {
  it("is never the one just left, prefers items not passed over, and wraps around the list", async () => {
    const { pickNext } = await import("../src/views/qa/next");
    expect(pickNext([1, 2, 3], 1, new Set())).toBe(2);
    expect(pickNext([1, 2, 3], 2, new Set([1]))).toBe(3);
    expect(pickNext([1, 2, 3], 3, new Set([1, 2]))).toBe(1); // all passed over: the list order, wrapping
    expect(pickNext([1, 2, 3], 1, new Set([2, 3]))).toBe(2);
    expect(pickNext([4, 5], 9, new Set())).toBe(4); // the item just decided is no longer listed
    expect(pickNext([7], 7, new Set())).toBeNull();
    expect(pickNext([], 7, new Set())).toBeNull();
  });
});
