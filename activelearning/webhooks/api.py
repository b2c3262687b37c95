"""Webhooks API (API.md, "Webhooks"), for the project's admins: the project's webhooks, each one's changes, its
delivery log and a test ping. The secret is write-only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.webhooks.models import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from activelearning.webhooks.selectors import (
    access_webhook,
    project_webhooks,
    webhook_deliveries,
    with_last_delivery,
)
from activelearning.webhooks.services import (
    create_webhook,
    delete_webhook,
    send_test,
    update_webhook,
)
from annotations.api.errors import error_responses
from annotations.int64 import INT64_MAX
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404)
DELIVERY_LOG_LIMIT = 50


@extend_schema_field(serializers.ChoiceField(choices=WebhookEvent.choices))
class EventNameField(serializers.CharField):
    """A webhook event's name. Documented as the enum (clients build their choices from it); checked by the
    service, which refuses unknown names with `unknown_event` and the allowed list."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=32, **kwargs)


class LastDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    last_status_code = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class WebhookSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    events = serializers.ListField(child=EventNameField(), read_only=True)
    last_delivery = serializers.SerializerMethodField(help_text="The newest delivery's outcome; null if none yet.")

    class Meta:
        model = Webhook
        fields = ["id", "project", "url", "events", "active", "created_by", "created_at", "last_delivery"]
        read_only_fields = fields  # a response shape: every field always present

    @extend_schema_field(LastDeliverySerializer(allow_null=True))
    def get_last_delivery(self, webhook: Webhook) -> dict[str, Any] | None:
        """From `with_last_delivery`'s annotations (no query here); a webhook just created has none."""
        if getattr(webhook, "last_delivery_id", None) is None:
            return None
        return {name: getattr(webhook, f"last_delivery_{name}")
                for name in ("id", "event", "status", "last_status_code", "created_at")}


class WebhookWriteSerializer(serializers.Serializer):
    """Shapes only; the rules (allow-listed URL, known events, secret length) are the service's, each with its
    own error code."""

    url = serializers.CharField(max_length=500)
    secret = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False,
                                   help_text="At least 32 characters; signs every delivery. Never shown again.")
    events = serializers.ListField(child=EventNameField(), max_length=16,
                                   help_text=f"A subset of {', '.join(WebhookEvent.values)}.")
    active = serializers.BooleanField(required=False, help_text="Default true; a PATCH without it leaves it as is.")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "event_id", "payload", "status", "attempts", "next_attempt_at", "last_status_code",
                  "last_error", "created_at", "delivered_at"]
        read_only_fields = fields  # a response shape: every field always present


class ProjectWebhooksView(APIView):
    """`GET/POST /api/v1/projects/{id}/webhooks/`: the project's webhooks; add one."""

    @extend_schema(operation_id="project_webhooks", responses={200: WebhookSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(WebhookSerializer(project_webhooks(project), many=True).data)

    @extend_schema(operation_id="project_webhook_create", request=WebhookWriteSerializer,
                   responses={201: WebhookSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = WebhookWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = create_webhook(project=project, user=request.user, **body.validated_data)  # type: ignore[arg-type]
        return Response(WebhookSerializer(webhook).data, status=201)


class WebhookView(APIView):
    """`PATCH/DELETE /api/v1/webhooks/{id}`: change a webhook (any of url, secret, events, active); remove it."""

    @extend_schema(operation_id="webhook_update", request=WebhookWriteSerializer(partial=True),
                   responses={200: WebhookSerializer, **ERRORS})
    def patch(self, request: Request, webhook_id: int) -> Response:
        webhook = access_webhook(user=request.user, webhook_id=webhook_id)
        body = WebhookWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        webhook = update_webhook(webhook=webhook, user=request.user, **body.validated_data)  # type: ignore[arg-type]
        return Response(WebhookSerializer(with_last_delivery(Webhook.objects.filter(pk=webhook.pk)).get()).data)

    @extend_schema(operation_id="webhook_delete", responses={204: None, **ERRORS})
    def delete(self, request: Request, webhook_id: int) -> Response:
        delete_webhook(webhook=access_webhook(user=request.user, webhook_id=webhook_id),
                       user=request.user)  # type: ignore[arg-type]
        return Response(status=204)


class DeliveryLogQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, default=DELIVERY_LOG_LIMIT)
    before = serializers.IntegerField(min_value=1, max_value=INT64_MAX, required=False)


class WebhookDeliveriesView(APIView):
    """`GET /api/v1/webhooks/{id}/deliveries?limit=&before=`: the delivery log, newest first (default 50, at most
    200); the next page is `before=<the last row's id>`."""

    @extend_schema(operation_id="webhook_deliveries",
                   parameters=[OpenApiParameter("limit", int, description="1–200, default 50"),
                               OpenApiParameter("before", int, description="A delivery id of this log: only the "
                                                "deliveries older than it (the next page)")],
                   responses={200: WebhookDeliverySerializer(many=True), **ERRORS})
    def get(self, request: Request, webhook_id: int) -> Response:
        webhook = access_webhook(user=request.user, webhook_id=webhook_id)
        query = DeliveryLogQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = webhook_deliveries(webhook, limit=query.validated_data["limit"],
                                  before=query.validated_data.get("before"))
        return Response(WebhookDeliverySerializer(rows, many=True).data)


class WebhookTestView(APIView):
    """`POST /api/v1/webhooks/{id}/test`: queue a signed `ping` delivery to the webhook; follow it in the log."""

    @extend_schema(operation_id="webhook_test", request=None, responses={202: WebhookDeliverySerializer, **ERRORS})
    def post(self, request: Request, webhook_id: int) -> Response:
        delivery = send_test(webhook=access_webhook(user=request.user, webhook_id=webhook_id))
        return Response(WebhookDeliverySerializer(delivery).data, status=202)
