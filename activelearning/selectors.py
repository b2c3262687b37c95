"""Reads for the learning side."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from activelearning.models import ModelVersion, RoutingPolicy, Webhook, WebhookDelivery
from activelearning.policy import DEFAULT_POLICY
from annotations.errors import NotFound
from annotations.models import Project, Role
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


def webhook_deliveries(webhook: Webhook, *, limit: int) -> list[WebhookDelivery]:
    """The webhook's delivery log, newest first."""
    return list(WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-id")[:limit])
