import { describe, expect, it } from "vitest";
import { type CountRow, csvUrl, dayWindow, numbersQuery, percent, toNumbersColumns, trendText } from "../src/counts/numbers";

function row(start: string, sha: string, model: number, corrected: [number, number] | null = null): CountRow {
  return {
    site: 1, site_name: "Main St", camera: 2, camera_name: "door-1", bucket_start: start, bucket: "day",
    model_sha256: sha, model_version: null, model_name: `model ${sha}`, model_count: model,
    corrected_windows: corrected ? 1 : 0, flag_windows: corrected ? 1 : 0, review_windows: 0,
    wrong_windows: corrected && corrected[0] !== corrected[1] ? 1 : 0,
    corrected_model_count: corrected ? corrected[0] : null, corrected_count: corrected ? corrected[1] : null,
    absolute_error: corrected ? Math.abs(corrected[1] - corrected[0]) : null, relative_error: null, error_rate: null,
  };
}

describe("numbers chart columns", () => {
  it("sums a bucket's models, leaves uncorrected buckets empty and marks where another model took over", () => {
    const c = toNumbersColumns([
      row("2026-11-12T00:00:00Z", "b", 10), row("2026-11-12T00:00:00Z", "a", 1),
      row("2026-11-10T00:00:00Z", "a", 12, [12, 14]), row("2026-11-11T00:00:00Z", "a", 6, [6, 8]),
    ]);
    const day = (d: number) => Date.parse(`2026-11-${d}T00:00:00Z`) / 1000;
    expect(c.x).toEqual([day(10), day(11), day(12)]);
    expect(c.model).toEqual([12, 6, 11]);
    expect(c.modelCorrected).toEqual([12, 6, null]);
    expect(c.corrected).toEqual([14, 8, null]);
    expect(c.modelChanges).toEqual([{ at: day(12), name: "model b" }]);
  });
});

describe("numbers filters", () => {
  const filters = { from: "2026-11-01T00:00:00.000Z", to: "2026-12-01T00:00:00.000Z", bucket: "day" as const,
                    site: 7, camera: null, correctedOnly: true };
  it("become the API's query, absent ones left out", () => {
    expect(numbersQuery(filters)).toEqual({ from: filters.from, to: filters.to, bucket: "day", site: "7",
                                            corrected_only: "true" });
    expect(numbersQuery({ ...filters, site: null, correctedOnly: false })).toEqual({ from: filters.from,
                                                                                      to: filters.to, bucket: "day" });
  });
  it("give the CSV link the same filters", () => {
    const url = new URL(csvUrl(3, filters), "http://x");
    expect(url.pathname).toBe("/api/v1/projects/3/counts");
    expect(Object.fromEntries(url.searchParams)).toEqual({ ...numbersQuery(filters), format: "csv" });
  });
  it("read whole UTC days, the end day included", () => {
    expect(dayWindow("2026-11-01", "2026-11-30")).toEqual({ from: "2026-11-01T00:00:00.000Z",
                                                            to: "2026-12-01T00:00:00.000Z" });
    expect(dayWindow("2026-11-02", "2026-11-01")).toBeNull();
    expect(dayWindow("", "2026-11-01")).toBeNull();
  });
});

describe("numbers words", () => {
  it("shows figures as percentages and the trend as an arrow", () => {
    expect(percent(2 / 14)).toBe("14.3%");
    expect(percent(null)).toBe("–");
    expect(trendText("worse").arrow).toBe("↑");
    expect(trendText("better").arrow).toBe("↓");
    expect(trendText(null).words).toMatch(/too few/);
  });
});
