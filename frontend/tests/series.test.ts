import { describe, expect, it } from "vitest";
import type { CameraCounts } from "../src/api/shapes";
import { toColumns, totalIn } from "../src/counts/series";

const counts: CameraCounts = {
  camera: 1, camera_name: "door-1", site: "Main St", from: "2026-01-01T00:00:00Z", to: "2026-01-01T04:00:00Z", bucket: "1h",
  series: [
    { start: "2026-01-01T01:00:00Z", count_name: "boarding", value: 5, events: 2 },
    { start: "2026-01-01T03:00:00Z", count_name: "boarding", value: 2, events: 1 },
    { start: "2026-01-01T03:00:00Z", count_name: "alighting", value: 1, events: 1 },
  ],
  detections: [],
};

describe("count columns", () => {
  it("fills empty buckets with zero, one column per count name", () => {
    const c = toColumns(counts);
    expect(c.x).toHaveLength(4);
    expect(c.names).toEqual(["alighting", "boarding"]);
    expect(c.values).toEqual([[0, 0, 0, 1], [0, 5, 0, 2]]);
  });

  it("totals a window", () => {
    const c = toColumns(counts);
    const t0 = Date.parse("2026-01-01T01:00:00Z") / 1000;
    expect(totalIn(c, t0, t0 + 3 * 3600)).toBe(8);
    expect(totalIn(c, t0, t0 + 3600)).toBe(5);
  });
});

describe("count columns on a window that starts mid-bucket", () => {
  it("keeps the bucket that holds `from`", () => {
    const c = toColumns({ ...counts, from: "2026-01-01T00:39:49Z",
                          series: [{ start: "2026-01-01T00:00:00Z", count_name: "entries", value: 4, events: 1 }] });
    expect(c.x[0]).toBe(Date.parse("2026-01-01T00:00:00Z") / 1000);
    expect(c.values[0]![0]).toBe(4);
  });
});
