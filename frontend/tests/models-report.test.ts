import { describe, expect, it } from "vitest";
import { type DetectionReport, METRICS, framesLabel, verdict } from "../src/views/models/report";

const report = (images: number, precision: number): DetectionReport => ({
  images, ground_truth: images, predictions: images, map50: 0.5, map50_95: 0.3, precision, recall: 0.5,
  count_mae: 1, count_bias: 0,
});
const precision = METRICS.find((m) => m.key === "precision")!;

describe("evaluation verdicts", () => {
  it("colours a difference only with enough frames", () => {
    expect(verdict(precision, report(5, 0.397), report(5, 0.451), 30)).toBeNull();
    expect(verdict(precision, report(40, 0.397), report(40, 0.451), 30)).toBe(-1);
    expect(verdict(precision, report(40, 0.451), report(40, 0.451), 30)).toBe(0);
  });

  it("says which frames were evaluated, never 'no dataset version yet' when one exists", () => {
    expect(framesLabel("dataset_test", 5, 1)).toBe("5 frames of dataset v1's test split");
    expect(framesLabel("dataset_test", 1, 2)).toBe("1 frame of dataset v2's test split");
    expect(framesLabel("held_out_no_test_split", 5, null)).toContain("no dataset version has a test split");
    expect(framesLabel("held_out_no_dataset", 5, null)).toContain("no dataset version frozen yet");
  });
});
