"""The alerts' background job: the sweep (beat, every minute)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from activelearning.alerts.services import sweep


@shared_task(name="alerts.sweep", acks_late=True, ignore_result=True)
def sweep_alerts_task() -> dict[str, Any]:
    """Open, resolve and notify every project's alerts. Overlapping runs are safe: an alert opens (and is
    announced) once per subject thanks to the partial unique index, and resolves once (conditional update)."""
    return sweep()
