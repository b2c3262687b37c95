import { describe, expect, it } from "vitest";
import { parseRoute, href } from "../src/router";
import { mayOpen } from "../src/roles";
import {
  alertState, bellBadge, bellLabel, checkSilence, describeFigures, parseParams,
} from "../src/views/alerts/alerts";

const summary = (open: number, critical = 0, silenced = 0, unacknowledged = open) =>
  ({ open, unacknowledged, silenced, by_severity: { critical, warning: open - critical } });

describe("the alert bell", () => {
  it("shows the open unsilenced alerts, nothing for none, 99+ past 99", () => {
    expect(bellBadge(undefined)).toBe("");
    expect(bellBadge(summary(0, 0, 3))).toBe("");
    expect(bellBadge(summary(4))).toBe("4");
    expect(bellBadge(summary(120))).toBe("99+");
  });

  it("names the count, the critical ones and the unacknowledged ones", () => {
    expect(bellLabel(summary(0))).toBe("Alerts: none open");
    expect(bellLabel(summary(0, 0, 2))).toBe("Alerts: none open, 2 silenced");
    expect(bellLabel(summary(3, 1, 0, 2))).toBe("Alerts: 3 open, 1 critical, 2 unacknowledged");
  });
});

describe("silence and rules forms", () => {
  it("refuses a silence of 0 or more than a week, or without a reason", () => {
    expect(checkSilence(60, "site closed")).toEqual({});
    expect(Object.keys(checkSilence(0, "x"))).toEqual(["minutes"]);
    expect(Object.keys(checkSilence(10081, "x"))).toEqual(["minutes"]);
    expect(Object.keys(checkSilence(60, "  "))).toEqual(["reason"]);
    expect(Object.keys(checkSilence(60, "x".repeat(501)))).toEqual(["reason"]);
  });

  it("parses thresholds within their bounds and names each bad one", () => {
    const specs = [{ name: "minutes", min: 1, max: 10080, integer: true },
      { name: "ratio", min: 0.01, max: 1, integer: false }];
    expect(parseParams(specs, { minutes: "15", ratio: "0.5" })).toEqual({ params: { minutes: 15, ratio: 0.5 }, errors: {} });
    const bad = parseParams(specs, { minutes: "2.5", ratio: "-1" });
    expect(bad.params).toEqual({});
    expect(bad.errors).toEqual({ minutes: "A whole number is expected.", ratio: "Between 0.01 and 1." });
    expect(parseParams(specs, { minutes: "", ratio: "abc" }).errors).toEqual(
      { minutes: "A number is expected.", ratio: "A number is expected." });
  });
});

describe("an alert in words", () => {
  it("says what the figures mean per kind", () => {
    expect(describeFigures("no_heartbeat", { minutes_silent: 42.4 })).toBe("silent for 42 min");
    expect(describeFigures("disk_nearly_full", { free_percent: 3.14159 })).toBe("3.1 % disk free");
    expect(describeFigures("drift_psi_site", { psi: 0.41234, threshold: 0.2 })).toBe("PSI 0.412 (threshold 0.2)");
    expect(describeFigures("camera_offline", { status: "offline", last_frame_age_seconds: null })).toBe("reported offline");
    expect(describeFigures("unknown_kind", {})).toBe("");
    expect(describeFigures("no_heartbeat", null)).toBe("no heartbeat");
  });

  it("names its state: resolved over silenced over acknowledged over open", () => {
    expect(alertState({ resolved_at: "t", silenced: true, acknowledged_at: "t" })).toBe("resolved");
    expect(alertState({ resolved_at: null, silenced: true, acknowledged_at: "t" })).toBe("silenced");
    expect(alertState({ resolved_at: null, silenced: false, acknowledged_at: "t" })).toBe("acknowledged");
    expect(alertState({ resolved_at: null, silenced: false, acknowledged_at: null })).toBe("open");
  });
});

describe("the alerts page's address and who opens it", () => {
  it("routes #/projects/{id}/alerts", () => {
    expect(parseRoute(href.alerts(7))).toEqual({ name: "alerts", project: 7 });
  });

  it("is for admins, reviewers, managers and operators, not annotators", () => {
    expect(["admin", "reviewer", "manager", "operator"].every((r) => mayOpen("alerts", r as never))).toBe(true);
    expect(mayOpen("alerts", "annotator")).toBe(false);
  });
});
