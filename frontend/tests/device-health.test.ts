import { describe, expect, it } from "vitest";
import { parseRoute } from "../src/router";
import {
  cameraStatus, connectivity, formatBytes, formatSeconds, increasesAt, lastValue, percent, pointCount, rangeQuery,
  sparklinePath, tickDecimals,
} from "../src/views/devices/health";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

describe("device health helpers", () => {
  it("calls a device online, stale or offline from its last heartbeat", () => {
    expect(connectivity(ago(30), NOW)).toBe("online");
    expect(connectivity(ago(180), NOW)).toBe("online");
    expect(connectivity(ago(181), NOW)).toBe("stale");
    expect(connectivity(ago(900), NOW)).toBe("stale");
    expect(connectivity(ago(901), NOW)).toBe("offline");
    expect(connectivity(null, NOW)).toBe("never");
  });

  it("reads a camera's status JSON, and a bare or unknown one safely", () => {
    expect(cameraStatus({ status: "offline", fps: 0, last_frame_age_seconds: 42, message: "no frames" })).toEqual({
      state: "offline", fps: 0, inferenceFps: null, lastFrameAgeS: 42, droppedFrames: null, message: "no frames" });
    expect(cameraStatus("ok").state).toBe("ok");
    expect(cameraStatus({ status: "<b>on fire</b>", fps: "fast" })).toMatchObject({ state: "unknown", fps: null });
    expect(cameraStatus(null).state).toBe("unknown");
  });

  it("formats percentages, bytes and durations", () => {
    expect(percent(1, 3)).toBe(33);
    expect(percent(1, 0)).toBeNull();
    expect(percent(null, 10)).toBeNull();
    expect(formatBytes(2_500_000_000)).toBe("2.5 GB");
    expect(formatBytes(700_000_000)).toBe("700 MB");
    expect(formatBytes(null)).toBe("—");
    expect(formatSeconds(42)).toBe("42 s");
    expect(formatSeconds(300)).toBe("5 min");
    expect(formatSeconds(7200)).toBe("2.0 h");
  });

  it("gives axis ticks as many decimals as their step needs", () => {
    expect(tickDecimals(0.05)).toBe(2);
    expect(tickDecimals(0.5)).toBe(1);
    expect(tickDecimals(0.1)).toBe(1);
    expect(tickDecimals(5)).toBe(0);
    expect(tickDecimals(1e-9)).toBe(3);
    expect(tickDecimals(0)).toBe(0);
  });

  it("asks for a range ending now", () => {
    expect(rangeQuery("1h", NOW)).toEqual({ since: "2026-12-01T11:00:00.000Z", until: "2026-12-01T12:00:00.000Z" });
    expect(rangeQuery("7d", NOW).since).toBe("2026-11-24T12:00:00.000Z");
  });

  it("counts points, finds the buckets a counter rose in and the last value", () => {
    expect(pointCount([1, null, 3])).toBe(2);
    expect(increasesAt([0, 60, 120], [0, 2, null])).toEqual([60]);
    expect(lastValue([1, 5, null])).toBe(5);
    expect(lastValue([null])).toBeNull();
  });

  it("draws a sparkline scaled to its values, broken at gaps, a lone point as a dot", () => {
    expect(sparklinePath([0, 10], 100, 22)).toBe("M0.0,21.0L100.0,1.0");
    expect(sparklinePath([0, null, 10], 100, 22)).toBe("M0.0,21.0h0.1M100.0,1.0h0.1");
    expect(sparklinePath([5, 5], 10, 12, [0, 10])).toBe("M0.0,6.0L10.0,6.0");
    expect(sparklinePath([null, null], 10, 10)).toBe("");
  });

  it("routes a device's page", () => {
    expect(parseRoute("#/projects/3/devices/7")).toEqual({ name: "device", project: 3, device: 7 });
    expect(parseRoute("#/projects/3/devices")).toEqual({ name: "devices", project: 3 });
  });
});
