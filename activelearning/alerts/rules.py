"""The alert rules as plain data and plain functions (docs/alerts.md): the kinds, their default thresholds, the
validation of an admin's thresholds, and which subjects violate a rule given plain rows. No Django here: the
sweep (services.py) reads the rows in a few set-based queries and asks these functions, and the tests and the
bench can call them alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# --- The kinds ---------------------------------------------------------------------------------------------

NO_HEARTBEAT = "no_heartbeat"
CAMERA_OFFLINE = "camera_offline"
WATCHDOG_FIRED = "watchdog_fired"
INFERENCE_BEHIND = "inference_behind"
DISK_NEARLY_FULL = "disk_nearly_full"
OUTBOX_BACKLOG = "outbox_backlog"
DRIFT_PSI_CAMERA = "drift_psi_camera"
DRIFT_PSI_SITE = "drift_psi_site"
DRIFT_CORRECTION_RATE = "drift_correction_rate"
DRIFT_COUNT_ERROR = "drift_count_error"
ROLLOUT_HALTED = "rollout_halted"

CRITICAL, WARNING = "critical", "warning"
SEVERITIES = (CRITICAL, WARNING)


@dataclass(frozen=True)
class Param:
    """One threshold of a rule: its default and the bounds a person can mean (outside them: a typo, 400)."""

    default: float
    low: float
    high: float
    integer: bool = False
    help: str = ""


@dataclass(frozen=True)
class Kind:
    name: str
    subject: str  # device, camera, site, rollout
    severity: str
    label: str
    params: Mapping[str, Param]


_MINUTES_IN_A_WEEK = 7 * 24 * 60

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind(NO_HEARTBEAT, "device", CRITICAL, "No heartbeat",
         {"minutes": Param(10, 1, _MINUTES_IN_A_WEEK, True, "Minutes since the device's last heartbeat.")}),
    Kind(CAMERA_OFFLINE, "camera", WARNING, "Camera offline",
         {"minutes": Param(5, 1, _MINUTES_IN_A_WEEK, True,
                           "Reported offline/error, or its last frame older than this many minutes.")}),
    Kind(WATCHDOG_FIRED, "device", WARNING, "Watchdog fired",
         {"window_minutes": Param(60, 1, _MINUTES_IN_A_WEEK, True,
                                  "The watchdog restart counter rose within this many minutes.")}),
    Kind(INFERENCE_BEHIND, "device", WARNING, "Inference behind the frame rate",
         {"ratio": Param(0.8, 0.01, 1.0, False, "Inference fps below this share of the camera fps.")}),
    Kind(DISK_NEARLY_FULL, "device", CRITICAL, "Disk nearly full",
         {"free_percent": Param(10, 0.1, 99, False, "Free disk below this percentage.")}),
    Kind(OUTBOX_BACKLOG, "device", WARNING, "Outbox backlog",
         {"minutes": Param(30, 1, _MINUTES_IN_A_WEEK, True, "The oldest undelivered event is older than this.")}),
    Kind(DRIFT_PSI_CAMERA, "camera", WARNING, "Confidence drift (camera)",
         {"threshold": Param(0.2, 0.01, 10, False, "A camera's confidence PSI reaches this.")}),
    Kind(DRIFT_PSI_SITE, "site", WARNING, "Confidence drift (site)",
         {"threshold": Param(0.2, 0.01, 10, False, "The PSI of a site's cameras' pooled confidences reaches this."),
          "min_boxes": Param(200, 1, 1_000_000, True, "Box scores each window needs for a site's PSI.")}),
    Kind(DRIFT_CORRECTION_RATE, "camera", WARNING, "Correction rate",
         {"threshold": Param(0.5, 0.01, 1, False, "Share of accepted reviews that corrected the model.")}),
    Kind(DRIFT_COUNT_ERROR, "camera", WARNING, "Count error",
         {"threshold": Param(2.0, 0.01, 10_000, False, "Mean |observed − model| count of managers' flags.")}),
    Kind(ROLLOUT_HALTED, "rollout", CRITICAL, "Rollout halted", {}),
)}

KIND_CHOICES = [(k.name, k.label) for k in KINDS.values()]  # one `AlertKindEnum` in the API schema
SUBJECT_TYPES = ("device", "camera", "site", "rollout", "project")


def default_params(kind: str) -> dict[str, float]:
    return {name: p.default for name, p in KINDS[kind].params.items()}


def validate_params(kind: str, params: Any) -> tuple[dict[str, float], dict[str, list[str]]]:
    """The rule's thresholds merged over its defaults, and the errors by parameter name (empty: valid)."""
    spec = KINDS[kind].params
    if not isinstance(params, dict):
        return {}, {"params": ["An object of thresholds is expected."]}
    errors: dict[str, list[str]] = {}
    merged = default_params(kind)
    for name, value in params.items():
        param = spec.get(name)
        if param is None:
            errors[name] = [f"Not a threshold of {kind}; expected one of: {', '.join(spec) or 'none'}."]
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # noqa: PLR0124 (NaN)
            errors[name] = ["A number is expected."]
        elif param.integer and int(value) != value:
            errors[name] = ["A whole number is expected."]
        elif not param.low <= value <= param.high:
            errors[name] = [f"Must be between {param.low:g} and {param.high:g}."]
        else:
            merged[name] = int(value) if param.integer else float(value)
    return merged, errors


# --- Which subjects violate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """A subject violating a rule now: what the alert is about and the figure that made it fire."""

    project_id: int
    subject_type: str
    subject_id: int
    label: str
    site_id: int | None
    value: dict[str, Any]


Params = Mapping[int, Mapping[str, float]]  # project id → the rule's thresholds (only projects with it enabled)


def silent_devices(devices: Iterable[Mapping[str, Any]], params: Params, now: datetime) -> list[Violation]:
    """Devices whose last heartbeat (or, never heard from, their creation) is older than `minutes`."""
    out = []
    for d in devices:
        if (p := params.get(d["project_id"])) is None:
            continue
        last = d["last_seen_at"] or d["created_at"]
        if last is not None and now - last >= timedelta(minutes=p["minutes"]):
            out.append(_device(d, {"last_seen_at": d["last_seen_at"].isoformat() if d["last_seen_at"] else None,
                                   "minutes_silent": round((now - last).total_seconds() / 60, 1)}))
    return out


def devices_behind(devices: Iterable[Mapping[str, Any]], params: Params) -> list[Violation]:
    """Devices whose inference completes fewer frames a second than `ratio` of what their cameras deliver."""
    out = []
    for d in devices:
        p = params.get(d["project_id"])
        fps, inference = d["fps"], d["inference_fps"]
        if p is not None and fps and inference is not None and inference < p["ratio"] * fps:
            out.append(_device(d, {"fps": fps, "inference_fps": inference}))
    return out


def devices_low_on_disk(devices: Iterable[Mapping[str, Any]], params: Params) -> list[Violation]:
    out = []
    for d in devices:
        p = params.get(d["project_id"])
        free, total = d["disk_free_bytes"], d["disk_total_bytes"]
        if p is not None and free is not None and total and free * 100 < p["free_percent"] * total:
            out.append(_device(d, {"disk_free_bytes": free, "disk_total_bytes": total,
                                   "free_percent": round(100 * free / total, 2)}))
    return out


def devices_with_backlog(devices: Iterable[Mapping[str, Any]], params: Params) -> list[Violation]:
    out = []
    for d in devices:
        p = params.get(d["project_id"])
        age = d["outbox_oldest_age_seconds"]
        if p is not None and age is not None and age >= p["minutes"] * 60:
            out.append(_device(d, {"outbox_oldest_age_seconds": age, "outbox_depth": d["outbox_depth"]}))
    return out


def devices_watchdog_fired(restarts: Iterable[Mapping[str, Any]], params: Params) -> list[Violation]:
    """`restarts`: per device, the lowest and highest watchdog counter sampled within the project's window."""
    return [_device(d, {"restarts": d["hi"] - d["lo"]}) for d in restarts
            if params.get(d["project_id"]) is not None and d["hi"] is not None and d["lo"] is not None
            and d["hi"] > d["lo"]]


OFFLINE_STATUSES = ("offline", "error")


def cameras_offline(cameras: Iterable[Mapping[str, Any]], params: Params) -> list[Violation]:
    """Cameras their device reports offline or in error, or whose last frame is older than `minutes`."""
    out = []
    for c in cameras:
        if (p := params.get(c["project_id"])) is None:
            continue
        status = c["status"] if isinstance(c["status"], dict) else {}
        age = status.get("last_frame_age_seconds")
        stale = isinstance(age, int | float) and age >= p["minutes"] * 60
        if status.get("status") in OFFLINE_STATUSES or stale:
            out.append(Violation(c["project_id"], "camera", c["id"], c["label"], c["site_id"],
                                 {"status": status.get("status"), "last_frame_age_seconds": age,
                                  "message": status.get("message", "")}))
    return out


def cameras_over(states: Iterable[Mapping[str, Any]], params: Params, metric: str) -> list[Violation]:
    """Cameras whose last drift computation measured `metric` at or above the rule's threshold (None: too few
    samples to say, never an alert)."""
    out = []
    for s in states:
        p, value = params.get(s["project_id"]), s[metric]
        if p is not None and value is not None and value >= p["threshold"]:
            out.append(Violation(s["project_id"], "camera", s["camera_id"], s["label"], s["site_id"],
                                 {metric: value, "threshold": p["threshold"], "computed_at": _iso(s["computed_at"])}))
    return out


def sites_over_psi(states: Iterable[Mapping[str, Any]], params: Params,
                   psi: Any) -> list[Violation]:
    """Sites whose cameras' pooled confidence histograms (reference against current) have a PSI at or above the
    threshold, each window with at least `min_boxes` scores. `psi(expected, actual)` is passed in (numpy)."""
    pooled: dict[tuple[int, int], dict[str, Any]] = {}
    for s in states:
        if params.get(s["project_id"]) is None or not s["histogram_reference"] or not s["histogram_current"]:
            continue
        site = pooled.setdefault((s["project_id"], s["site_id"]), {"label": s["site_label"], "ref": None, "cur": None})
        for key, hist in (("ref", s["histogram_reference"]), ("cur", s["histogram_current"])):
            site[key] = list(hist) if site[key] is None else [a + b for a, b in zip(site[key], hist, strict=False)]
    out = []
    for (project_id, site_id), site in pooled.items():
        p = params[project_id]
        if min(sum(site["ref"]), sum(site["cur"])) < p["min_boxes"]:
            continue
        value = float(psi(site["ref"], site["cur"]))
        if value >= p["threshold"]:
            out.append(Violation(project_id, "site", site_id, site["label"], site_id,
                                 {"psi": round(value, 4), "threshold": p["threshold"]}))
    return out


def halted_rollouts(rollouts: Iterable[Mapping[str, Any]], params: Params) -> list[Violation]:
    """`rollouts`: each project's latest rollout. Its project stays alerted while that one is halted; a newer
    rollout (or a resumed champion decision) clears it."""
    return [Violation(r["project_id"], "rollout", r["id"], r["label"], None,
                      {"model": r["model_id"], "reason": r["halt_reason"]})
            for r in rollouts if r["status"] == "halted" and params.get(r["project_id"]) is not None]


def _device(d: Mapping[str, Any], value: dict[str, Any]) -> Violation:
    return Violation(d["project_id"], "device", d["id"], d["label"], d["site_id"], value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
