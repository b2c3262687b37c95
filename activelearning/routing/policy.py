"""Routing policy v1: a versioned JSON document per project decides which events a person should see.

Pure (no Django). `route_event` turns one event's facts into a decision with a priority in [0, 1] and the
parts that make it up, so a reviewer can see why an item is in the queue. Budget caps need the database
and are applied by the ingest service.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

DEVICE_REASONS = ("low_confidence", "disputed", "model_disagreement", "ood", "audit_sample")

_UNIT = {"type": "number", "minimum": 0, "maximum": 1}
_CAP = {"type": ["integer", "null"], "minimum": 0}

POLICY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Loupe routing policy",
    "type": "object",
    "additionalProperties": False,
    "required": ["weights", "min_priority", "audit_sample_rate"],
    "properties": {
        "description": {"type": "string"},
        "weights": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: _UNIT for k in ("least_confidence", "margin", "entropy", "device_reason", "quality")},
        },
        "device_reasons": {
            "type": "object",
            "description": "How much each reason a device states counts (device_reason signal).",
            "propertyNames": {"enum": list(DEVICE_REASONS)},
            "additionalProperties": _UNIT,
        },
        "min_priority": {**_UNIT, "description": "Queue an event whose priority reaches this."},
        "audit_sample_rate": {**_UNIT, "description": "Fraction of all other events queued at random."},
        "quality": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "dark_below": {**_UNIT, "description": "Mean luma under which a frame counts as dark."},
                "blurry_below": {"type": "number", "minimum": 0,
                                 "description": "Laplacian variance under which a frame counts as blurry."},
            },
        },
        "rules": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "when"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "when": {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "properties": {
                            "event_types": {"type": "array", "items": {"enum": ["prediction", "dispute"]}},
                            "reasons": {"type": "array", "items": {"enum": list(DEVICE_REASONS)}},
                            "classes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                            "confidence_band": {"type": "array", "items": _UNIT, "minItems": 2, "maxItems": 2},
                            "min_detections": {"type": "integer", "minimum": 0},
                            "max_detections": {"type": "integer", "minimum": 0},
                            "sites": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "action": {"enum": ["queue", "skip"], "default": "queue"},
                    "boost": {"type": "number", "minimum": -1, "maximum": 1, "default": 0},
                    "reason": {"enum": ["low_confidence", "ood", "policy_rule"]},
                },
            },
        },
        "caps": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "per_minute": _CAP, "per_hour": _CAP, "per_day": _CAP, "per_site_per_day": _CAP,
            },
        },
        "exempt_from_caps": {"type": "array", "items": {"enum": list(DEVICE_REASONS)}},
    },
}

DEFAULT_POLICY: dict[str, Any] = {
    "description": "Default: uncertain detections, every dispute, a 2 % audit sample, 2000 items per site a day.",
    "weights": {"least_confidence": 0.3, "margin": 0.15, "entropy": 0.15, "device_reason": 0.3, "quality": 0.1},
    "device_reasons": {"disputed": 1.0, "model_disagreement": 0.8, "ood": 0.8, "low_confidence": 0.6,
                       "audit_sample": 0.3},
    "min_priority": 0.3,
    "audit_sample_rate": 0.02,
    "quality": {"dark_below": 0.2, "blurry_below": 40.0},
    "rules": [],
    "caps": {"per_minute": None, "per_hour": None, "per_day": None, "per_site_per_day": 2000},
    "exempt_from_caps": ["disputed"],
}

_VALIDATOR = jsonschema.Draft202012Validator(POLICY_SCHEMA)


class PolicyInvalid(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))
        self.errors = errors


def validate_policy(document: Any) -> None:
    """Raise PolicyInvalid listing every schema violation (path and message)."""
    errors = [
        {"path": "/" + "/".join(str(p) for p in err.absolute_path), "message": err.message}
        for err in sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not errors and isinstance(document, dict):
        for i, rule in enumerate(document.get("rules", [])):
            band = rule["when"].get("confidence_band")
            if band and band[0] > band[1]:
                errors.append({"path": f"/rules/{i}/when/confidence_band", "message": "low end above high end"})
    if errors:
        raise PolicyInvalid(errors)


@dataclass(frozen=True)
class EventFacts:
    """What routing looks at; built by the ingest service from a validated event."""

    event_type: str
    device_reason: str | None
    scores: Sequence[float]
    labels: Sequence[str]
    site: str
    brightness: float | None
    blur: float | None
    sample_key: str  # stable per event, so a re-send makes the same audit decision


def facts_for_event(
    *,
    event_type: str,
    reason: str | None,
    detections: Iterable[tuple[str, float]],
    site: str,
    brightness: float | None,
    blur: float | None,
    device_id: int | None,
    event_id: str,
) -> EventFacts:
    """The facts routing looks at for one device event (detections as (label, score) pairs).

    The one place they are built: ingest calls it on an incoming event and the policy preview on a stored
    prediction, so a replay decides exactly as ingest did (same audit draw, since the key is device and event id).
    """
    pairs = list(detections)
    return EventFacts(
        event_type=event_type,
        device_reason=reason or None,  # stored predictions keep "no reason" as ""
        scores=[score for _, score in pairs],
        labels=[label for label, _ in pairs],
        site=site,
        brightness=brightness,
        blur=blur,
        sample_key=f"{device_id}:{event_id}",
    )


@dataclass
class Decision:
    queue: bool
    reason: str
    priority: float
    parts: dict[str, Any] = field(default_factory=dict)
    exempt_from_caps: bool = False


def _binary_entropy(p: float) -> float:
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def uncertainty_signals(scores: Sequence[float]) -> dict[str, float]:
    """Least-confidence, margin and entropy of the most uncertain detection, each in [0, 1].

    Devices report the winning class score only, so each detection is read as the two-way choice
    object-vs-not: margin is 1 − |p − (1 − p)| and entropy is the binary entropy in bits.
    """
    if not scores:
        return {"least_confidence": 0.0, "margin": 0.0, "entropy": 0.0}
    # Margin and binary entropy both peak at the score closest to 0.5, so one pass finds both.
    closest = min(scores, key=lambda s: abs(2.0 * s - 1.0))
    return {
        "least_confidence": 1.0 - min(scores),
        "margin": 1.0 - abs(2.0 * closest - 1.0),
        "entropy": _binary_entropy(closest),
    }


def quality_signal(brightness: float | None, blur: float | None, settings: dict[str, float]) -> float:
    """How far below the dark/blurry thresholds a frame is, in [0, 1] (0 = fine or unknown)."""
    dark_below = settings.get("dark_below", 0.0)
    blurry_below = settings.get("blurry_below", 0.0)
    dark = (dark_below - brightness) / dark_below if brightness is not None and dark_below > 0 else 0.0
    blurry = (blurry_below - blur) / blurry_below if blur is not None and blurry_below > 0 else 0.0
    return min(1.0, max(0.0, dark, blurry))


def audit_draw(sample_key: str) -> float:
    """A uniform draw in [0, 1) fixed by the event, so decisions are reproducible and idempotent."""
    digest = hashlib.blake2b(sample_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _rule_matches(when: dict[str, Any], facts: EventFacts) -> bool:
    if "event_types" in when and facts.event_type not in when["event_types"]:
        return False
    if "reasons" in when and facts.device_reason not in when["reasons"]:
        return False
    if "sites" in when and facts.site not in when["sites"]:
        return False
    n = len(facts.scores)
    if n < when.get("min_detections", 0) or n > when.get("max_detections", n):
        return False
    classes = when.get("classes")
    band = when.get("confidence_band")
    if classes is None and band is None:
        return True
    # Class and band conditions hold together on one detection (Roboflow-style sampling rules).
    return any(
        (classes is None or label in classes) and (band is None or band[0] <= score <= band[1])
        for label, score in zip(facts.labels, facts.scores, strict=True)
    )


def route_event(policy: dict[str, Any], facts: EventFacts) -> Decision:
    """Score one event and decide whether it is queued, and why."""
    weights: dict[str, float] = policy["weights"]
    signals = uncertainty_signals(facts.scores)
    signals["device_reason"] = policy.get("device_reasons", {}).get(facts.device_reason or "", 0.0)
    # A dispute is a dispute whether the device sent it as its own event type or as a prediction's reason.
    dispute = facts.event_type == "dispute" or facts.device_reason == "disputed"
    if dispute:
        signals["device_reason"] = max(signals["device_reason"], policy.get("device_reasons", {}).get("disputed", 1.0))
    signals["quality"] = quality_signal(facts.brightness, facts.blur, policy.get("quality", {}))
    parts: dict[str, Any] = {name: round(weights.get(name, 0.0) * value, 6) for name, value in signals.items()}
    base = sum(parts.values())

    matched = [rule for rule in policy.get("rules", []) if _rule_matches(rule["when"], facts)]
    boosts = {rule["name"]: rule.get("boost", 0.0) for rule in matched if rule.get("boost")}
    if boosts:
        parts["rules"] = boosts
    priority = min(1.0, max(0.0, base + sum(boosts.values())))
    parts["signals"] = {
        "min_score": min(facts.scores) if facts.scores else None,
        "detections": len(facts.scores),
        "brightness": facts.brightness,
        "blur": facts.blur,
        **{name: round(value, 6) for name, value in signals.items()},
    }

    skipped = any(rule.get("action") == "skip" for rule in matched)
    queued_by_rule = next((rule for rule in matched if rule.get("action", "queue") == "queue"), None)
    exempt = (facts.device_reason or "") in policy.get("exempt_from_caps", []) or (
        dispute and "disputed" in policy.get("exempt_from_caps", [])
    )

    if skipped:
        return Decision(queue=False, reason="", priority=priority, parts=parts)
    if dispute:
        return Decision(queue=True, reason="disputed", priority=priority, parts=parts, exempt_from_caps=exempt)
    if priority >= policy["min_priority"]:
        reason = facts.device_reason if facts.device_reason in DEVICE_REASONS else "low_confidence"
        return Decision(queue=True, reason=reason, priority=priority, parts=parts, exempt_from_caps=exempt)
    if queued_by_rule is not None:
        parts["rule"] = queued_by_rule["name"]
        return Decision(queue=True, reason=queued_by_rule.get("reason", "policy_rule"), priority=priority,
                        parts=parts, exempt_from_caps=exempt)
    draw = audit_draw(facts.sample_key)
    if draw < policy["audit_sample_rate"]:
        parts["audit_sample"] = {"draw": round(draw, 6), "rate": policy["audit_sample_rate"]}
        return Decision(queue=True, reason="audit_sample", priority=priority, parts=parts)
    return Decision(queue=False, reason="", priority=priority, parts=parts)
