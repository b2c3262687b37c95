"""Monitoring's background job: recomputing drift."""

from __future__ import annotations

from celery import shared_task

from activelearning.monitoring.drift import compute_drift_everywhere


@shared_task(name="monitoring.compute_drift", acks_late=True, ignore_result=True)
def compute_drift_task() -> dict[int, int]:
    """Recompute drift for every enabled project (beat, every 15 minutes); alerts fire on transitions only, so a
    re-delivered or overlapping run alerts nothing twice."""
    return compute_drift_everywhere()
