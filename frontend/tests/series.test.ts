import { describe, expect, it } from "vitest";
import type { CameraCounts } from "../src/api/shapes";
import { snapToBuckets, toColumns } from "../src/counts/series";

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
});

describe("a window picked on the chart", () => {
  it("widens to whole UTC buckets", () => {
    const t = (iso: string) => Date.parse(iso) / 1000;
    expect(snapToBuckets("1h", t("2026-01-01T01:20:00Z"), t("2026-01-01T02:35:00Z")))
      .toEqual([t("2026-01-01T01:00:00Z"), t("2026-01-01T03:00:00Z")]);
    expect(snapToBuckets("15m", t("2026-01-01T01:20:00Z"), t("2026-01-01T01:20:30Z")))
      .toEqual([t("2026-01-01T01:15:00Z"), t("2026-01-01T01:30:00Z")]);
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
