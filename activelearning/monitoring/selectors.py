"""Reads for drift monitoring: the policy and the per-camera overview."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

from activelearning.monitoring.models import DriftMetric, DriftPolicy, DriftState
from annotations.models import Camera, Project


def drift_policy(project: Project) -> DriftPolicy:
    """The project's drift policy; an unsaved one with the defaults if no admin changed it yet."""
    return DriftPolicy.objects.filter(project=project).first() or DriftPolicy(project=project)


def drift_overview(project: Project, *, using: str = DEFAULT_DB_ALIAS) -> list[dict[str, Any]]:
    """Every camera of the project with its last drift snapshot (none yet: empty metrics), site then name
    order, in one query whatever the number of cameras. `using`: the dashboard's GET reads the reporting
    database (annotations/dbrouting.py); the answer to a policy change stays on the primary."""
    cameras = (Camera.objects.using(using).filter(site__project=project).select_related("site", "drift_state")
               .order_by("site__name", "name", "pk"))
    rows = []
    for camera in cameras:
        state: DriftState | None = getattr(camera, "drift_state", None)
        rows.append({
            "camera": camera.pk, "camera_name": camera.name, "site": camera.site_id, "site_name": camera.site.name,
            "computed_at": state.computed_at if state else None,
            "psi": state.psi if state else None,
            "correction_rate": state.correction_rate if state else None,
            "count_error": state.count_error if state else None,
            "boxes_reference": state.boxes_reference if state else 0,
            "boxes_current": state.boxes_current if state else 0,
            "reviews": state.reviews if state else 0,
            "corrections": state.corrections if state else 0,
            "flags": state.flags if state else 0,
            "histogram_reference": state.histogram_reference if state else [],
            "histogram_current": state.histogram_current if state else [],
            "alerting": [{"metric": metric, "since": since}
                         for metric, since in sorted((state.alerting or {}).items())] if state else [],
            "last_alert_at": state.last_alert_at if state else None,
        })
        rows[-1].update(drift_status(rows[-1]))
    return rows


# What a camera's drift amounts to. Unknown is not OK: a camera with no metric measured has `not_enough_data`,
# one measured on some metrics only is `partial` (with the rest listed), never a plain `ok`.
DRIFT_STATUSES = ("alerting", "ok", "partial", "not_enough_data", "not_computed")


def drift_status(row: dict[str, Any]) -> dict[str, Any]:
    """The camera's status and the metrics with too few samples to say anything (`unknown_metrics`)."""
    unknown = [m.value for m in DriftMetric if row[m.value] is None]
    if row["computed_at"] is None:
        status = "not_computed"
    elif row["alerting"]:
        status = "alerting"
    elif len(unknown) == len(DriftMetric):
        status = "not_enough_data"
    else:
        status = "partial" if unknown else "ok"
    return {"status": status, "unknown_metrics": unknown}


def drift_summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many cameras are in each status, so a page never calls "no camera is drifting" what it cannot know."""
    return {"cameras": len(rows), **{status: sum(r["status"] == status for r in rows) for status in DRIFT_STATUSES}}
