"""Drift per camera from its stored state (the last computation), read at each scrape (annotations/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from activelearning.monitoring.models import DriftState

SCORES = ("psi", "correction_rate", "count_error")


def drift_scores() -> Iterator[Metric]:
    """One series per camera and drift metric that has a value (a metric short of samples has none)."""
    scores = GaugeMetricFamily("loupe_drift_score", "A camera's last drift value, by metric.",
                               labels=["project", "camera", "metric"])
    alerting = GaugeMetricFamily("loupe_drift_alerting", "1 while a camera's drift metric is alerting.",
                                 labels=["project", "camera", "metric"])
    rows = DriftState.objects.values_list("project__slug", "camera__name", "camera_id", "alerting", *SCORES)
    for project, camera_name, camera_id, alerts, *values in rows.iterator():
        camera = f"{camera_id}:{camera_name}"
        for metric, value in zip(SCORES, values, strict=True):
            if value is not None:
                scores.add_metric([project, camera, metric], float(value))
            alerting.add_metric([project, camera, metric], 1.0 if metric in (alerts or {}) else 0.0)
    yield scores
    yield alerting
