"""Webhooks API (API.md, "Webhooks"), for the project's admins: the project's webhooks, each one's changes, its
delivery log and a test ping. The secret is write-only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.models import Webhook, WebhookDelivery, WebhookEvent
from activelearning.selectors import access_webhook, webhook_deliveries
from activelearning.webhooks import create_webhook, delete_webhook, send_test, update_webhook
from annotations.api.errors import ErrorSerializer
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = {status: OpenApiResponse(ErrorSerializer) for status in (400, 401, 403, 404)}
DELIVERY_LOG_LIMIT = 50


class WebhookSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Webhook
        fields = ["id", "project", "url", "events", "active", "created_by", "created_at"]


class WebhookWriteSerializer(serializers.Serializer):
    """Shapes only; the rules (allow-listed URL, known events, secret length) are the service's, each with its
    own error code."""

    url = serializers.CharField(max_length=500)
    secret = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False,
                                   help_text="At least 32 characters; signs every delivery. Never shown again.")
    events = serializers.ListField(child=serializers.CharField(max_length=32), max_length=16,
                                   help_text=f"A subset of {', '.join(WebhookEvent.values)}.")
    active = serializers.BooleanField(default=True)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "event_id", "payload", "status", "attempts", "next_attempt_at", "last_status_code",
                  "last_error", "created_at", "delivered_at"]


class ProjectWebhooksView(APIView):
    """`GET/POST /api/v1/projects/{id}/webhooks/`: the project's webhooks; add one."""

    @extend_schema(operation_id="project_webhooks", responses={200: WebhookSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        hooks = Webhook.objects.filter(project=project).select_related("created_by").order_by("pk")
        return Response(WebhookSerializer(hooks, many=True).data)

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
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(operation_id="webhook_delete", responses={204: None, **ERRORS})
    def delete(self, request: Request, webhook_id: int) -> Response:
        delete_webhook(webhook=access_webhook(user=request.user, webhook_id=webhook_id),
                       user=request.user)  # type: ignore[arg-type]
        return Response(status=204)


class WebhookDeliveriesView(APIView):
    """`GET /api/v1/webhooks/{id}/deliveries?limit=`: the delivery log, newest first (default 50, at most 200)."""

    @extend_schema(operation_id="webhook_deliveries",
                   parameters=[OpenApiParameter("limit", int, description="1–200, default 50")],
                   responses={200: WebhookDeliverySerializer(many=True), **ERRORS})
    def get(self, request: Request, webhook_id: int) -> Response:
        webhook = access_webhook(user=request.user, webhook_id=webhook_id)
        limit = serializers.IntegerField(min_value=1, max_value=200).run_validation(
            request.query_params.get("limit", DELIVERY_LOG_LIMIT))
        return Response(WebhookDeliverySerializer(webhook_deliveries(webhook, limit=limit), many=True).data)


class WebhookTestView(APIView):
    """`POST /api/v1/webhooks/{id}/test`: queue a signed `ping` delivery to the webhook; follow it in the log."""

    @extend_schema(operation_id="webhook_test", request=None, responses={202: WebhookDeliverySerializer, **ERRORS})
    def post(self, request: Request, webhook_id: int) -> Response:
        delivery = send_test(webhook=access_webhook(user=request.user, webhook_id=webhook_id))
        return Response(WebhookDeliverySerializer(delivery).data, status=202)
