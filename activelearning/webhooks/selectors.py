"""Reads for webhooks and their delivery log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, Q, QuerySet, Subquery

from activelearning.webhooks.models import Webhook, WebhookDelivery
from annotations.errors import InvalidInput, NotFound
from annotations.models import Project, Role
from annotations.selectors import access_project


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
