import { describe, expect, it } from "vitest";
import { agreement, iou } from "../src/editor/agreement";

describe("agreement", () => {
  it("computes IoU", () => {
    expect(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 0, w: 10, h: 10 })).toBeCloseTo(50 / 150);
    expect(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 20, y: 0, w: 10, h: 10 })).toBe(0);
  });

  it("is the F1 of a one-to-one match with the same label", () => {
    const a = [{ label: "person", box: [0, 0, 10, 10] }, { label: "person", box: [50, 50, 10, 10] }];
    expect(agreement(a, a)).toBe(1);
    expect(agreement(a, [{ label: "person", box: [1, 1, 10, 10] }])).toBeCloseTo(2 / 3);
    expect(agreement(a, [{ label: "bag", box: [0, 0, 10, 10] }])).toBe(0);
    expect(agreement([], [])).toBe(1);
  });
});
