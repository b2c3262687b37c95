"""The rules of a staged rollout, framework-free (no Django): what a valid plan is, which devices a stage takes,
and what a gate says about the canary against the champion's devices. The services feed it numbers read from
the database; tests and the bench call it alone.

A plan is a list of stages, each `{"devices": [names], "sites": [ids], "percent": 0–100, "soak_minutes": ≥0}`,
and a list of gates `{"metric", "comparison": "ratio" | "delta", "tolerance"}`. Stages are cumulative: a device
taken by stage 0 stays in every later stage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

# Every metric is "higher is worse", so one comparison rule serves them all.
METRICS: dict[str, str] = {
    "inference_ms_p50": "mean device-reported median inference latency per frame (ms)",
    "inference_ms_p95": "mean device-reported 95th-percentile inference latency per frame (ms)",
    "crashes": "crashes/watchdog restarts per device during the stage (increase of the reported counter)",
    "low_confidence_rate": "share of the devices' prediction events routed as low_confidence",
    "count_flag_rate": "managers' count flags per device during the stage, on the devices' cameras",
    "inference_lag": "share of camera frames inference does not keep up with: mean of max(0, 1 − inference fps / "
                     "camera fps) over the devices' heartbeats",
    "confidence_drift": "PSI of the canary's device box scores against the champion's (the champion is the "
                        "reference, so its own figure is 0); compare with `delta`",
}
COMPARISONS = ("ratio", "delta")
MAX_STAGES = 20

Verdict = Literal["pass", "fail", "no_data"]


def validate_plan(stages: Any, gates: Any) -> dict[str, Any]:
    """Field errors of a plan ({} when valid), shaped like a serializer's: `{"stages": {"1": {"percent": [...]}}}`.

    Checks only what needs no database (device and site names are the service's)."""
    errors: dict[str, Any] = {}
    if not isinstance(stages, list) or not stages:
        errors["stages"] = ["Give at least one stage."]
    elif len(stages) > MAX_STAGES:
        errors["stages"] = [f"At most {MAX_STAGES} stages."]
    else:
        stage_errors: dict[str, Any] = {}
        previous = -1.0
        for index, stage in enumerate(stages):
            problems = _stage_errors(stage, previous)
            if problems:
                stage_errors[str(index)] = problems
            elif stage.get("percent") is not None:
                previous = float(stage["percent"])
        if stage_errors:
            errors["stages"] = stage_errors
    if not isinstance(gates, list):
        errors["gates"] = ["Give a list of gates (it may be empty)."]
    else:
        gate_errors = {str(i): problems for i, gate in enumerate(gates) if (problems := _gate_errors(gate))}
        if gate_errors:
            errors["gates"] = gate_errors
    return errors


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _stage_errors(stage: Any, previous_percent: float) -> dict[str, list[str]]:
    if not isinstance(stage, Mapping):
        return {"non_field_errors": ["A stage is an object."]}
    problems: dict[str, list[str]] = {}
    unknown = sorted(set(stage) - {"devices", "sites", "percent", "soak_minutes"})
    if unknown:
        problems["non_field_errors"] = [f"Unknown keys: {', '.join(map(str, unknown))}."]
    percent = stage.get("percent")
    if percent is not None:
        if not _number(percent) or not 0 <= percent <= 100:
            problems["percent"] = ["A percentage between 0 and 100."]
        elif percent <= previous_percent:
            problems["percent"] = [f"Percentages must increase from stage to stage (the one before is "
                                   f"{previous_percent:g})."]
    for key in ("devices", "sites"):
        value = stage.get(key, [])
        kind = str if key == "devices" else int
        if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
            problems[key] = ["A list of device names." if key == "devices" else "A list of site ids."]
    if not stage.get("devices") and not stage.get("sites") and not percent:
        problems.setdefault("non_field_errors", []).append("A stage takes named devices, sites or a percentage.")
    soak = stage.get("soak_minutes", 0)
    if not _number(soak) or soak < 0:
        problems["soak_minutes"] = ["Minutes, zero or more."]
    return problems


def _gate_errors(gate: Any) -> dict[str, list[str]]:
    if not isinstance(gate, Mapping):
        return {"non_field_errors": ["A gate is an object."]}
    problems: dict[str, list[str]] = {}
    if gate.get("metric") not in METRICS:
        problems["metric"] = [f"Unknown metric {gate.get('metric')!r}; one of: {', '.join(METRICS)}."]
    if gate.get("comparison", "ratio") not in COMPARISONS:
        problems["comparison"] = ["One of: ratio, delta."]
    tolerance = gate.get("tolerance")
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool) or tolerance < 0:
        problems["tolerance"] = ["A number, zero or more."]
    return problems


def bucket(rollout_id: int, device_id: int) -> float:
    """A device's stable place in [0, 100) for one rollout: the same device lands in the same place on every
    poll and every server, and a new rollout reshuffles, so the same devices are not always the canaries."""
    digest = hashlib.sha256(f"rollout:{rollout_id}:device:{device_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def in_stage(stages: Sequence[Mapping[str, Any]], stage_index: int, *, rollout_id: int, device_id: int,
             device_name: str, site_id: int) -> bool:
    """Whether a device runs the rollout's model at `stage_index` (stages are cumulative)."""
    place = bucket(rollout_id, device_id)
    for stage in stages[: stage_index + 1]:
        if device_name in stage.get("devices", []) or site_id in stage.get("sites", []):
            return True
        if stage.get("percent") is not None and place < float(stage["percent"]):
            return True
    return False


def soaked(started_at: datetime, soak_minutes: float, now: datetime) -> bool:
    return now >= started_at + timedelta(minutes=soak_minutes)


@dataclass(frozen=True)
class GateResult:
    metric: str
    comparison: str
    tolerance: float
    candidate: float | None
    champion: float | None
    verdict: Verdict

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "comparison": self.comparison, "tolerance": self.tolerance,
                "candidate": self.candidate, "champion": self.champion, "verdict": self.verdict}


def judge(gate: Mapping[str, Any], *, candidate: float | None, champion: float | None) -> GateResult:
    """One gate. `ratio`: the canary may be at most (1 + tolerance) × the champion's devices; `delta`: at most
    the champion's plus tolerance. No canary figure: no_data (the stage waits). No champion figure (every
    device already runs the new model, or none reports): the canary is compared with 0 under `delta` and
    passes under `ratio`, since there is nothing left to be worse than."""
    comparison, tolerance = str(gate.get("comparison", "ratio")), float(gate["tolerance"])
    verdict: Verdict
    if candidate is None:
        verdict = "no_data"
    elif comparison == "delta":
        verdict = "pass" if candidate - (champion or 0.0) <= tolerance else "fail"
    elif champion is None:
        verdict = "pass"
    else:
        # A champion at 0 (no crash at all) with tolerance 0.5 still allows 0, not any number.
        verdict = "pass" if candidate <= champion * (1 + tolerance) + 1e-9 else "fail"
    return GateResult(metric=str(gate["metric"]), comparison=comparison, tolerance=tolerance,
                      candidate=candidate, champion=champion, verdict=verdict)


Decision = Literal["wait", "advance", "complete", "halt"]


def decide(results: Sequence[GateResult], *, soak_done: bool, last_stage: bool) -> Decision:
    """A failing gate halts at once (a bad model's blast radius is the point); otherwise the stage moves on
    only after its soak with every gate passing."""
    if any(r.verdict == "fail" for r in results):
        return "halt"
    if not soak_done or any(r.verdict == "no_data" for r in results):
        return "wait"
    return "complete" if last_stage else "advance"


def runtime_allows(model_opset: int | None, device_runtime: Mapping[str, Any] | None) -> bool:
    """A device that reported no runtime (or no opset) keeps today's behaviour: every model is offered."""
    if model_opset is None or not device_runtime:
        return True
    opset = device_runtime.get("opset")
    return not isinstance(opset, int) or opset >= model_opset
