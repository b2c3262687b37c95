"""Reads for routing: the current policy, recent device predictions."""

from __future__ import annotations

from typing import Any

from activelearning.routing.models import RoutingPolicy
from activelearning.routing.policy import DEFAULT_POLICY
from annotations.models import Prediction, PredictionSource, Project


def current_policy(project: Project) -> tuple[int | None, dict[str, Any]]:
    """The policy in force (highest version) and its version; the default document if none was saved."""
    row = (
        RoutingPolicy.objects.filter(project=project)
        .order_by("-version")
        .values_list("version", "document")
        .first()
    )
    if row is None:
        return None, DEFAULT_POLICY
    return row[0], row[1]


def recent_device_predictions(project: Project, *, limit: int) -> list[Prediction]:
    """The project's `limit` newest device predictions and disputes (by capture time), with camera, site and asset:
    one query, walking the (project, captured_at) index backwards."""
    return list(
        Prediction.objects.filter(project=project, source=PredictionSource.DEVICE,
                                  event_type__in=["prediction", "dispute"])
        .select_related("camera__site", "asset")
        .only("id", "device_id", "event_id", "event_type", "reason", "detections", "captured_at",
              "camera__name", "camera__site__name", "asset__brightness", "asset__blur")
        .order_by("-captured_at", "-id")[:limit]
    )
