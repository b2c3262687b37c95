import { describe, expect, it } from "vitest";
import { DEFAULT_DRAFT, fieldsOfRefusal, planFrom } from "../src/views/models/rolloutPlan";
import { gateText } from "../src/views/models/RolloutsPanel";

describe("the staged-rollout plan from the form", () => {
  it("makes a canary stage and one stage per wider share, with the gates that are on", () => {
    const { plan, errors } = planFrom({ ...DEFAULT_DRAFT, canaryDevices: "bus-12, bus-31 ,", canaryPercent: "5" });
    expect(errors).toEqual({});
    expect(plan?.stages).toEqual([
      { devices: ["bus-12", "bus-31"], percent: 5, soak_minutes: 60 },
      { percent: 25, soak_minutes: 240 }, { percent: 50, soak_minutes: 240 }, { percent: 100, soak_minutes: 240 }]);
    expect(plan?.gates.map((g) => g.metric)).toEqual(["inference_ms_p95", "inference_lag", "crashes",
      "confidence_drift", "low_confidence_rate"]);
    expect(plan?.gates[0]).toEqual({ metric: "inference_ms_p95", comparison: "ratio", tolerance: 0.25 });
  });

  it("names only devices when the share is empty", () => {
    const { plan } = planFrom({ ...DEFAULT_DRAFT, canaryDevices: "bus-12", canaryPercent: "" });
    expect(plan?.stages[0]).toEqual({ devices: ["bus-12"], soak_minutes: 60 });
  });

  it("refuses shares that do not increase, above 100, a canary of nobody and a bad tolerance", () => {
    expect(planFrom({ ...DEFAULT_DRAFT, widerPercents: "50, 40" }).errors.widerPercents).toMatch(/above the one before/);
    expect(planFrom({ ...DEFAULT_DRAFT, widerPercents: "3" }).errors.widerPercents).toMatch(/canary's is 5/);
    expect(planFrom({ ...DEFAULT_DRAFT, canaryPercent: "150" }).errors.canaryPercent).toMatch(/0 to 100/);
    expect(planFrom({ ...DEFAULT_DRAFT, canaryPercent: "0" }).errors.canaryDevices).toMatch(/Name canary devices/);
    expect(planFrom({ ...DEFAULT_DRAFT, canarySoak: "-1" }).errors.canarySoak).toMatch(/Minutes/);
    const gates = DEFAULT_DRAFT.gates.map((g, i) => (i === 1 ? { ...g, tolerance: "a lot" } : g));
    const refused = planFrom({ ...DEFAULT_DRAFT, gates });
    expect(refused.plan).toBeNull();
    expect(refused.errors.gates).toMatch(/Keeps up with the camera/);
  });

  it("puts the server's refusal beside the canary or the wider stages", () => {
    expect(fieldsOfRefusal({ stages: { "0": { devices: ["Unknown devices: bus-99."] } } }))
      .toEqual({ canaryDevices: "Unknown devices: bus-99." });
    expect(fieldsOfRefusal({ stages: { "2": { percent: ["Percentages must increase."] } } }))
      .toEqual({ widerPercents: "Stage 3: Percentages must increase." });
    expect(fieldsOfRefusal({ gates: { "0": { metric: ["Unknown metric."] } } })).toEqual({ gates: "Unknown metric." });
  });

  it("writes a halted gate's figures in one phrase", () => {
    expect(gateText({ metric: "inference_ms_p95", verdict: "fail", candidate: 95, champion: 40, tolerance: 0.25,
                      comparison: "ratio" })).toBe("inference_ms_p95 95 vs 40 (ratio ≤ 0.25)");
    expect(gateText({ metric: "confidence_drift", verdict: "no_data", candidate: null, champion: null, tolerance: 0.2,
                      comparison: "delta" })).toBe("confidence_drift no data vs no data (delta ≤ 0.2)");
  });
});

describe("the pin's target", () => {
  it("reads a device or a site from the picker and nothing else", async () => {
    const { targetOf } = await import("../src/views/models/PinsPanel");
    expect(targetOf("device:12")).toEqual({ device: 12 });
    expect(targetOf("site:3")).toEqual({ site: 3 });
    expect(targetOf("")).toBeNull();
    expect(targetOf("camera:1")).toBeNull();
  });
});
