"""Reads for the learning side."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, Q, QuerySet, Subquery

from activelearning.models import (
    DriftMetric,
    DriftPolicy,
    DriftState,
    ModelVersion,
    RoutingPolicy,
    Webhook,
    WebhookDelivery,
)
from activelearning.policy import DEFAULT_POLICY
from annotations.errors import InvalidInput, NotFound
from annotations.models import Camera, Prediction, PredictionSource, Project, Role
from annotations.selectors import access_project


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


def access_model(*, user: AbstractBaseUser | AnonymousUser, model_id: int,
                 roles: list[str] | None = None) -> ModelVersion:
    """The model version, if the caller is a member of its project with one of `roles` (404 for outsiders)."""
    model = ModelVersion.objects.filter(pk=model_id).first()
    if model is None:
        raise NotFound("Not found.")
    access_project(user=user, project_id=model.project_id, roles=roles)
    return model


def access_webhook(*, user: AbstractBaseUser | AnonymousUser, webhook_id: int) -> Webhook:
    """The webhook, if the caller is an admin of its project (404 for outsiders, 403 for other members)."""
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound("Not found.")
    access_project(user=user, project_id=webhook.project_id, roles=[Role.ADMIN])
    return webhook


def project_webhooks(project: Project) -> QuerySet[Webhook]:
    """The project's webhooks, oldest first, each with its latest delivery's outcome (see `with_last_delivery`)."""
    return with_last_delivery(Webhook.objects.filter(project=project)).select_related("created_by").order_by("pk")


def with_last_delivery(webhooks: QuerySet[Webhook]) -> QuerySet[Webhook]:
    """Annotate each webhook with its newest delivery's id, event, status, status code and time (`last_delivery_*`,
    None when it has none): one query for the whole list, each subquery an index scan of `webhook_delivery_log`."""
    newest = WebhookDelivery.objects.filter(webhook=OuterRef("pk")).order_by("-created_at", "-id")
    return webhooks.annotate(**{f"last_delivery_{name}": Subquery(newest.values(name)[:1])
                                for name in ("id", "event", "status", "last_status_code", "created_at")})


def webhook_deliveries(webhook: Webhook, *, limit: int, before: int | None = None) -> list[WebhookDelivery]:
    """The webhook's delivery log, newest first; with `before` (a delivery id from the previous page), the rows
    older than that one. Keyset paging in the log's own order: rows added meanwhile neither repeat nor go missing.
    A `before` that is not one of this webhook's deliveries is refused (`invalid_cursor`)."""
    rows = WebhookDelivery.objects.filter(webhook=webhook)
    if before is not None:
        cursor = rows.filter(pk=before).values_list("created_at", flat=True).first()
        if cursor is None:
            raise InvalidInput("No such delivery in this webhook's log.", code="invalid_cursor",
                               details={"before": before})
        rows = rows.filter(Q(created_at__lt=cursor) | Q(created_at=cursor, id__lt=before))
    return list(rows.order_by("-created_at", "-id")[:limit])


def drift_policy(project: Project) -> DriftPolicy:
    """The project's drift policy; an unsaved one with the defaults if no admin changed it yet."""
    return DriftPolicy.objects.filter(project=project).first() or DriftPolicy(project=project)


def drift_overview(project: Project) -> list[dict[str, Any]]:
    """Every camera of the project with its last drift snapshot (none yet: empty metrics), site then name
    order, in one query whatever the number of cameras."""
    cameras = (Camera.objects.filter(site__project=project).select_related("site", "drift_state")
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
