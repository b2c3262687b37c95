"""Drift monitoring (DESIGN.md, "Drift"): per camera, how far the device model's confidence distribution moved
(PSI of the current window against the reference window before it), how often people correct the model's
answers, and how far its counts are from what managers saw; an alert when a metric starts alerting.

An alert fires on the transition only. Each camera's DriftState row remembers which metrics are alerting
since when; a computation locks the project's rows, so two overlapping sweeps cannot both see a metric
enter alerting. The metric re-arms when a computation finds it clearly back under its threshold (below
REARM_FRACTION of it, so a metric hovering at the threshold does not alert again and again). An alert is an
audit event and a `drift.alert` webhook delivery (the outbox, in the same transaction) and a `drift.alert`
WebSocket push after the commit.

Reads are bounded: at most LOUPE_DRIFT_PREDICTIONS_PER_HOUR device predictions per camera and hour of a
window, the latest of each hour, binned in SQL on PostgreSQL (one statement, index range scans on
`prediction_camera_time`). The embedded SQLite mode bins the same sample in Python.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Avg, Count, F, OuterRef, Subquery
from django.db.models.functions import Abs
from django.utils import timezone

from activelearning.metrics import CONFIDENCE_BINS, confidence_histogram, psi
from activelearning.monitoring.models import DriftMetric, DriftPolicy, DriftState
from activelearning.monitoring.selectors import drift_policy
from annotations import audit, events
from annotations.geometry import is_correction
from annotations.models import (
    Annotation,
    AnnotationOrigin,
    Camera,
    Prediction,
    PredictionSource,
    Project,
    Site,
    Verdict,
)
from reviewer import realtime
from reviewer.models import CountFlag, ItemStatus, ReviewItem

logger = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)
# Plain strings (not the enum members) as dict keys: the payloads go through orjson, which wants exact `str`.
PSI, CORRECTION_RATE, COUNT_ERROR = (metric.value for metric in DriftMetric)
POLICY_FIELDS = ("enabled", "psi_threshold", "correction_rate_threshold", "count_error_threshold", "min_boxes",
                 "min_reviews", "min_flags", "current_window_hours", "reference_window_days")


@dataclass(frozen=True)
class Windows:
    """[reference_start, current_start) is the reference window, [current_start, end) the current one."""

    reference_start: dt.datetime
    current_start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, policy: DriftPolicy, now: dt.datetime) -> Windows:
        current_start = now - dt.timedelta(hours=policy.current_window_hours)
        return cls(current_start - dt.timedelta(days=policy.reference_window_days), current_start, now)


@dataclass
class Signals:
    """What one camera's data says in the windows, before the minimum sample sizes are applied."""

    reference: np.ndarray
    current: np.ndarray
    reviews: int = 0
    corrections: int = 0
    flags: int = 0
    flag_error: float = 0.0  # mean |observed − model count| of the flags


# --- Reading the signals ------------------------------------------------------------------------------------


def score_histograms(*, project_id: int, windows: Windows, per_hour: int,
                     bins: int = CONFIDENCE_BINS) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per camera: (reference, current) histograms of device box scores, from the latest `per_hour`
    predictions of each hour of the windows."""
    if connection.vendor == "postgresql":
        return _score_histograms_sql(project_id=project_id, windows=windows, per_hour=per_hour, bins=bins)
    return _score_histograms_python(project_id=project_id, windows=windows, per_hour=per_hour, bins=bins)


def _empty(bins: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(bins, np.int64), np.zeros(bins, np.int64)


def _score_histograms_sql(*, project_id: int, windows: Windows, per_hour: int,
                          bins: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    # One LATERAL probe per camera and hour: each is an index range scan on (camera_id, captured_at) that
    # stops after `per_hour` rows, so the cost is bounded whatever the ingest rate. `floor(score * bins)`
    # rather than width_bucket: the same float arithmetic as metrics.confidence_histogram, so a score on a
    # bin boundary lands in the same bin in both paths.
    sql = f"""
        WITH slices AS (
            SELECT s AS lo, s + interval '1 hour' AS hi, s >= %(current_start)s AS current
            FROM generate_series(%(reference_start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                                 interval '1 hour') AS s
        )
        SELECT c.id, sl.current,
               LEAST(GREATEST(floor((d.value ->> 'score')::float8 * %(bins)s)::int, 0), %(bins)s - 1) AS bin,
               count(*)
        FROM {Camera._meta.db_table} c
        JOIN {Site._meta.db_table} site ON site.id = c.site_id
        CROSS JOIN slices sl
        CROSS JOIN LATERAL (
            SELECT p.detections FROM {Prediction._meta.db_table} p
            WHERE p.camera_id = c.id AND p.captured_at >= sl.lo AND p.captured_at < sl.hi
              AND p.source = %(source)s AND jsonb_typeof(p.detections) = 'array'
            ORDER BY p.captured_at DESC LIMIT %(per_hour)s
        ) p
        CROSS JOIN LATERAL jsonb_array_elements(p.detections) d
        WHERE site.project_id = %(project)s AND jsonb_typeof(d.value -> 'score') = 'number'
        GROUP BY 1, 2, 3
    """  # noqa: S608 (table names are ours; every value is a parameter)
    params: dict[str, Any] = {"current_start": windows.current_start, "reference_start": windows.reference_start,
                              "end": windows.end, "bins": bins, "source": PredictionSource.DEVICE,
                              "per_hour": per_hour, "project": project_id}
    result: dict[int, tuple[np.ndarray, np.ndarray]] = defaultdict(lambda: _empty(bins))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for camera_id, current, bin_index, n in cursor.fetchall():
            result[camera_id][1 if current else 0][bin_index] += n
    return dict(result)


def _score_histograms_python(*, project_id: int, windows: Windows, per_hour: int,
                             bins: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The embedded mode's path: the same sample as the SQL, taken in Python from one indexed range query."""
    rows = (Prediction.objects.filter(project_id=project_id, camera__isnull=False, source=PredictionSource.DEVICE,
                                      captured_at__gte=windows.reference_start, captured_at__lt=windows.end)
            .order_by("camera_id", "-captured_at").values_list("camera_id", "captured_at", "detections"))
    taken: Counter[tuple[int, int]] = Counter()
    scores: dict[int, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for camera_id, captured_at, detections in rows.iterator(chunk_size=2000):
        slot = (camera_id, (captured_at - windows.reference_start) // HOUR)
        if taken[slot] >= per_hour or not isinstance(detections, list):
            continue
        taken[slot] += 1
        target = scores[camera_id][1 if captured_at >= windows.current_start else 0]
        target.extend(float(d["score"]) for d in detections
                      if isinstance(d, dict) and isinstance(d.get("score"), int | float))
    return {camera_id: (confidence_histogram(ref, bins), confidence_histogram(cur, bins))
            for camera_id, (ref, cur) in scores.items()}


def review_counts(*, project_id: int, windows: Windows) -> dict[int, tuple[int, int]]:
    """Per camera: (accepted reviews, corrections) among the items accepted in the current window.

    The accepted version is the item's latest person's version (a consensus has no diff of its own);
    `unusable` verdicts say nothing about the model and are left
    out. A correction is annotations.geometry.is_correction: the person changed the boxes or the count (the
    verdict alone is not enough, the editor defaults it to `correct`). Bounded by what people accept a day.
    """
    latest = (Annotation.objects.filter(review_item_id=OuterRef("pk"), origin=AnnotationOrigin.PERSON)
              .order_by("-version"))
    rows = (ReviewItem.objects.filter(project_id=project_id, status=ItemStatus.ACCEPTED, camera__isnull=False,
                                      accepted_at__gte=windows.current_start, accepted_at__lt=windows.end)
            .annotate(verdict=Subquery(latest.values("verdict")[:1]), diff=Subquery(latest.values("diff")[:1]))
            .values_list("camera_id", "verdict", "diff"))
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for camera_id, verdict, diff in rows:
        if verdict is None or verdict == Verdict.UNUSABLE:
            continue
        counts[camera_id][0] += 1
        counts[camera_id][1] += int(is_correction(diff))
    return {camera_id: (reviews, corrections) for camera_id, (reviews, corrections) in counts.items()}


def flag_errors(*, project_id: int, windows: Windows) -> dict[int, tuple[int, float]]:
    """Per camera: (count flags about the current window, mean |observed − model count| over them). A flag is
    placed by the time it describes (its window's end), not by when it was raised: a manager who flags this
    morning's counts in the evening speaks of this morning's model."""
    rows = (CountFlag.objects.filter(project_id=project_id, window_end__gt=windows.current_start,
                                     window_end__lte=windows.end)
            .values("camera_id").annotate(n=Count("id"), error=Avg(Abs(F("observed_count") - F("model_count"))))
            .order_by())
    return {row["camera_id"]: (int(row["n"]), float(row["error"] or 0.0)) for row in rows}


# --- Deciding ------------------------------------------------------------------------------------------------


def measure(signals: Signals, policy: DriftPolicy) -> dict[str, float | None]:
    """Each metric's value, or None when its samples are below the policy's minimum."""
    enough_boxes = min(signals.reference.sum(), signals.current.sum()) >= policy.min_boxes
    return {
        PSI: psi(signals.reference, signals.current) if enough_boxes else None,
        CORRECTION_RATE: signals.corrections / signals.reviews
        if signals.reviews >= policy.min_reviews else None,
        COUNT_ERROR: signals.flag_error if signals.flags >= policy.min_flags else None,
    }


def thresholds(policy: DriftPolicy) -> dict[str, float]:
    return {PSI: policy.psi_threshold, CORRECTION_RATE: policy.correction_rate_threshold,
            COUNT_ERROR: policy.count_error_threshold}


# An alerting metric re-arms only once it falls below this share of its threshold: a metric hovering at the
# threshold would otherwise alert at every other computation.
REARM_FRACTION = 0.8


def next_alerting(previous: dict[str, str], values: dict[str, float | None], limits: dict[str, float],
                  *, now: str) -> dict[str, str]:
    """Which metrics alert after this computation, each with the time it started: at or over its threshold it
    alerts (since its first time); an alerting one stays so until it falls below REARM_FRACTION of its
    threshold, then re-arms; without enough samples a metric keeps its state."""
    alerting: dict[str, str] = {}
    for metric, value in values.items():
        if value is None:
            if metric in previous:
                alerting[metric] = previous[metric]
        elif value >= limits[metric] or (metric in previous and value >= limits[metric] * REARM_FRACTION):
            alerting[metric] = previous.get(metric, now)
    return alerting


# --- The service ------------------------------------------------------------------------------------------


def compute_drift(*, project: Project, now: dt.datetime | None = None) -> list[DriftState]:
    """Recompute every camera of the project, store the snapshots, and alert on metrics that start alerting.

    The reads run before the transaction; the writes lock the project's DriftState rows (in camera order),
    so concurrent computations serialise and exactly one of them fires a given transition.
    """
    now = now or timezone.now()
    policy = drift_policy(project)
    windows = Windows.of(policy, now)
    cameras = list(Camera.objects.filter(site__project=project).select_related("site").order_by("pk"))
    if not cameras:
        return []
    histograms = score_histograms(project_id=project.pk, windows=windows,
                                  per_hour=settings.LOUPE_DRIFT_PREDICTIONS_PER_HOUR)
    reviews = review_counts(project_id=project.pk, windows=windows)
    flags = flag_errors(project_id=project.pk, windows=windows)
    limits = thresholds(policy)
    with transaction.atomic():
        DriftState.objects.bulk_create([DriftState(camera=c, project=project) for c in cameras],
                                       ignore_conflicts=True)
        states = {state.camera_id: state for state in DriftState.objects.select_for_update()
                  .filter(camera__in=cameras).order_by("camera_id")}
        for camera in cameras:
            state = states[camera.pk]
            reference, current = histograms.get(camera.pk, _empty(CONFIDENCE_BINS))
            n_reviews, n_corrections = reviews.get(camera.pk, (0, 0))
            n_flags, flag_error = flags.get(camera.pk, (0, 0.0))
            values = measure(Signals(reference=reference, current=current, reviews=n_reviews,
                                     corrections=n_corrections, flags=n_flags, flag_error=flag_error), policy)
            previous = dict(state.alerting or {})
            state.alerting = next_alerting(previous, values, limits, now=now.isoformat())
            state.computed_at = now
            state.psi, state.correction_rate, state.count_error = (
                values[PSI], values[CORRECTION_RATE], values[COUNT_ERROR])
            state.boxes_reference, state.boxes_current = int(reference.sum()), int(current.sum())
            state.reviews, state.corrections, state.flags = n_reviews, n_corrections, n_flags
            state.histogram_reference, state.histogram_current = reference.tolist(), current.tolist()
            entered = sorted(set(state.alerting) - set(previous))
            recovered = sorted(set(previous) - set(state.alerting))
            if entered:
                state.last_alert_at = now
                _alert(camera=camera, state=state, metrics=entered, limits=limits)
            if recovered:
                audit.record(action="drift.recovered", obj_type="camera", obj_id=camera.pk, project_id=project.pk,
                             before={"alerting": sorted(previous)},
                             after={"metrics": recovered, "alerting": sorted(state.alerting)})
        DriftState.objects.bulk_update(list(states.values()), fields=[
            "computed_at", "psi", "correction_rate", "count_error", "boxes_reference", "boxes_current", "reviews",
            "corrections", "flags", "histogram_reference", "histogram_current", "alerting", "last_alert_at"])
    return [states[camera.pk] for camera in cameras]


def _alert(*, camera: Camera, state: DriftState, metrics: list[str], limits: dict[str, float]) -> None:
    """One alert: audit event and webhook outbox row in the caller's transaction, the push after it commits."""
    payload: dict[str, Any] = {
        "camera": camera.pk, "camera_name": camera.name, "site": camera.site_id, "site_name": camera.site.name,
        "metrics": metrics, "alerting": sorted(state.alerting),
        "values": {PSI: state.psi, CORRECTION_RATE: state.correction_rate,
                   COUNT_ERROR: state.count_error},
        "thresholds": limits, "computed_at": state.computed_at.isoformat() if state.computed_at else None,
    }
    project_id = camera.site.project_id
    audit.record(action="drift.alert", obj_type="camera", obj_id=camera.pk, project_id=project_id, after=payload)
    events.emit("drift.alert", project_id=project_id, **payload)
    realtime.publish(project_id=project_id, message={"type": "drift.alert", **payload})


def compute_drift_everywhere(*, now: dt.datetime | None = None) -> dict[int, int]:
    """The periodic sweep: every project whose policy is enabled (no policy: the defaults, enabled); the
    cameras computed per project. One project failing is logged and does not stop the others."""
    disabled = DriftPolicy.objects.filter(enabled=False).values("project_id")
    computed: dict[int, int] = {}
    for project in Project.objects.exclude(pk__in=disabled).order_by("pk"):
        try:
            computed[project.pk] = len(compute_drift(project=project, now=now))
        except Exception:  # one project's bad data must not starve the others; the next sweep retries
            logger.exception("drift computation of project %s failed", project.pk)
    return computed


@transaction.atomic
def update_drift_policy(*, project: Project, user: User, changes: dict[str, Any]) -> DriftPolicy:
    """Change some of the project's drift thresholds and windows (validated by the caller's serializer; the
    database constraints back it). Takes effect at the next computation."""
    DriftPolicy.objects.get_or_create(project=project)
    policy = DriftPolicy.objects.select_for_update().get(project=project)
    before = {name: getattr(policy, name) for name in POLICY_FIELDS}
    for name, value in changes.items():
        if name not in POLICY_FIELDS:
            raise ValueError(f"not a drift policy field: {name}")
        setattr(policy, name, value)
    policy.updated_by = user
    policy.save()
    audit.record(action="drift_policy.updated", obj_type="project", obj_id=project.pk, project_id=project.pk,
                 actor=user, before=before, after={name: getattr(policy, name) for name in POLICY_FIELDS})
    return policy
