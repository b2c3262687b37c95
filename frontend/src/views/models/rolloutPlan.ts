/**
 * The staged-rollout form's plan, pure: from what the admin typed to the body of `POST /models/{id}/promote`
 * (docs/rollouts.md), with a sentence beside each field that cannot be sent. The server checks again; this only
 * saves a round trip for the obvious mistakes.
 */

export type GateMetric = "inference_ms_p95" | "inference_lag" | "crashes" | "confidence_drift"
  | "low_confidence_rate" | "count_flag_rate";

export interface GateChoice { metric: GateMetric; label: string; comparison: "ratio" | "delta";
                              tolerance: string; on: boolean; hint: string }

/** The gates offered, with the tolerances a cautious fleet starts from (all on but the count flags, which
 * need managers looking at the canary's cameras). */
export const DEFAULT_GATES: GateChoice[] = [
  { metric: "inference_ms_p95", label: "Inference latency p95", comparison: "ratio", tolerance: "0.25", on: true,
    hint: "Canary at most this fraction slower than the champion's devices." },
  { metric: "inference_lag", label: "Keeps up with the camera", comparison: "delta", tolerance: "0.1", on: true,
    hint: "Share of camera frames inference misses, at most this much above the champion's." },
  { metric: "crashes", label: "Crashes and watchdog restarts", comparison: "delta", tolerance: "1", on: true,
    hint: "Per device during the stage, at most this many more than the champion's." },
  { metric: "confidence_drift", label: "Confidence drift (PSI)", comparison: "delta", tolerance: "0.2", on: true,
    hint: "How far the canary's box scores moved from the champion's." },
  { metric: "low_confidence_rate", label: "Low-confidence events", comparison: "delta", tolerance: "0.05", on: true,
    hint: "Share of events routed as low confidence, at most this much above." },
  { metric: "count_flag_rate", label: "Managers' count flags", comparison: "delta", tolerance: "0.5", on: false,
    hint: "Flags per device during the stage, at most this many more." },
];

export interface RolloutDraft {
  canaryDevices: string; // comma-separated device names
  canaryPercent: string;
  canarySoak: string; // minutes
  widerPercents: string; // e.g. "25, 50, 100"
  widerSoak: string; // minutes, each wider stage
  gates: GateChoice[];
}

export const DEFAULT_DRAFT: RolloutDraft = {
  canaryDevices: "", canaryPercent: "5", canarySoak: "60", widerPercents: "25, 50, 100", widerSoak: "240",
  gates: DEFAULT_GATES,
};

export type PlanField = "canaryDevices" | "canaryPercent" | "canarySoak" | "widerPercents" | "widerSoak" | "gates";
export const PLAN_FIELDS: readonly PlanField[] = ["canaryDevices", "canaryPercent", "canarySoak", "widerPercents",
  "widerSoak", "gates"];

export interface Stage { devices?: string[]; percent?: number; soak_minutes: number }
export interface Gate { metric: GateMetric; comparison: "ratio" | "delta"; tolerance: number }
export interface Plan { to: "champion"; stages: Stage[]; gates: Gate[] }

const number = (text: string): number | null => (/^\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : null);

/** The plan, or the sentences for the fields that are wrong. */
export function planFrom(draft: RolloutDraft): { plan: Plan | null; errors: Partial<Record<PlanField, string>> } {
  const errors: Partial<Record<PlanField, string>> = {};
  const devices = draft.canaryDevices.split(",").map((d) => d.trim()).filter(Boolean);
  const canaryPercent = draft.canaryPercent.trim() === "" ? null : number(draft.canaryPercent);
  if (draft.canaryPercent.trim() !== "" && (canaryPercent === null || canaryPercent > 100)) {
    errors.canaryPercent = "A percentage from 0 to 100, or empty for named devices only.";
  }
  if (devices.length === 0 && !canaryPercent) {
    errors.canaryDevices = "Name canary devices or give a percentage of the fleet.";
  }
  const canarySoak = number(draft.canarySoak);
  if (canarySoak === null) errors.canarySoak = "Minutes, zero or more.";
  const wider = draft.widerPercents.split(",").map((p) => p.trim()).filter(Boolean).map(number);
  const floor = canaryPercent ?? 0;
  if (wider.some((p) => p === null || p > 100)) {
    errors.widerPercents = "Percentages from 0 to 100, separated by commas.";
  } else if (wider.some((p, i) => (p as number) <= (i === 0 ? floor : (wider[i - 1] as number)))) {
    errors.widerPercents = `Each percentage must be above the one before (the canary's is ${floor}).`;
  }
  const widerSoak = number(draft.widerSoak);
  if (widerSoak === null) errors.widerSoak = "Minutes, zero or more.";
  const gates: Gate[] = [];
  for (const g of draft.gates.filter((c) => c.on)) {
    const tolerance = number(g.tolerance);
    if (tolerance === null) {
      errors.gates = `${g.label}: the tolerance is a number, zero or more.`;
      break;
    }
    gates.push({ metric: g.metric, comparison: g.comparison, tolerance });
  }
  if (Object.keys(errors).length > 0) return { plan: null, errors };
  const canary: Stage = { soak_minutes: canarySoak as number };
  if (devices.length > 0) canary.devices = devices;
  if (canaryPercent) canary.percent = canaryPercent;
  const stages = [canary, ...wider.map((p) => ({ percent: p as number, soak_minutes: widerSoak as number }))];
  return { plan: { to: "champion", stages, gates }, errors };
}

/** The server's refusal (`details.stages["1"].percent`, `details.gates["0"].metric`) back on the form's fields:
 * stage 0 is the canary, later stages the wider percentages. */
export function fieldsOfRefusal(details: Record<string, unknown>): Partial<Record<PlanField, string>> {
  const flat = (v: unknown): string => (Array.isArray(v) ? v.flat(3).map(String).join(" ")
    : typeof v === "object" && v !== null ? Object.values(v).map(flat).join(" ") : String(v));
  const errors: Partial<Record<PlanField, string>> = {};
  const stages = details.stages;
  if (Array.isArray(stages)) errors.canaryDevices = flat(stages);
  else if (typeof stages === "object" && stages !== null) {
    for (const [index, problems] of Object.entries(stages as Record<string, unknown>)) {
      if (index === "0") {
        const p = problems as Record<string, unknown>;
        if (p.percent) errors.canaryPercent = flat(p.percent);
        if (p.soak_minutes) errors.canarySoak = flat(p.soak_minutes);
        if (p.devices || p.non_field_errors) errors.canaryDevices = flat(p.devices ?? p.non_field_errors);
      } else {
        errors.widerPercents = `Stage ${Number(index) + 1}: ${flat(problems)}`;
      }
    }
  }
  if (details.gates) errors.gates = flat(details.gates);
  return errors;
}
