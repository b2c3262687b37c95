"""Label Studio link API: the project's link and status (admins), push and sync now; the webhook Label Studio
calls (authenticated by the link's secret) and the signed media links its users' browsers load (no account)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.labelstudio.media import link_for_media
from activelearning.labelstudio.models import LabelStudioLink
from activelearning.labelstudio.selectors import link_status, project_link
from activelearning.labelstudio.services import (
    LinkSettings,
    Selection,
    check_webhook_secret,
    link_project,
    push,
    receive_webhook,
    sync,
    unlink,
)
from annotations import served_media
from annotations.api.assets import FilesWithJsonErrors, file_response
from annotations.api.errors import error_responses
from annotations.errors import NotFound
from annotations.models import Role
from annotations.selectors import access_asset_media, access_project
from reviewer.models import Reason

ERRORS = error_responses(400, 401, 403, 404)


class PushFilterSerializer(serializers.Serializer):
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=Reason.choices), required=False)
    min_priority = serializers.FloatField(min_value=0, max_value=1, required=False)
    site_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=500)


class LinkWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="Label Studio's base URL as Loupe reaches it")
    token = serializers.CharField(max_length=500, write_only=True, help_text="A Label Studio API token (stored "
                                                                             "encrypted; never shown again)")
    ls_project_id = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                             help_text="An existing Label Studio project; omitted: one is made")
    loupe_url = serializers.URLField(max_length=500, required=False, allow_blank=True,
                                     help_text="Loupe's address for Label Studio and its users (media, webhook); "
                                               "default LOUPE_PUBLIC_URL, else this request's")
    auto_push = serializers.BooleanField(default=False)
    push_filter = PushFilterSerializer(required=False)
    webhooks_enabled = serializers.BooleanField(default=True)


class TaskCountsSerializer(serializers.Serializer):
    pushed = serializers.IntegerField()
    pending = serializers.IntegerField()
    unconfirmed = serializers.IntegerField()
    annotated = serializers.IntegerField()
    deleted = serializers.IntegerField()


class VersionCountsSerializer(serializers.Serializer):
    webhook = serializers.IntegerField()
    poll = serializers.IntegerField()


class LinkStatusSerializer(serializers.Serializer):
    linked = serializers.BooleanField()
    url = serializers.CharField(required=False)
    ls_project_id = serializers.IntegerField(required=False, allow_null=True)
    ls_project_url = serializers.CharField(required=False, allow_null=True)
    loupe_url = serializers.CharField(required=False)
    auto_push = serializers.BooleanField(required=False)
    push_filter = PushFilterSerializer(required=False)
    webhooks_enabled = serializers.BooleanField(required=False)
    webhook_registered = serializers.BooleanField(required=False)
    tasks = TaskCountsSerializer(required=False)
    versions = VersionCountsSerializer(required=False)
    last_sync_at = serializers.DateTimeField(required=False, allow_null=True)
    poll_cursor = serializers.DateTimeField(required=False, allow_null=True)
    last_error = serializers.CharField(required=False, allow_null=True)
    last_error_at = serializers.DateTimeField(required=False, allow_null=True)
    failures = serializers.IntegerField(required=False)
    next_attempt_at = serializers.DateTimeField(required=False, allow_null=True)


class PushSerializer(PushFilterSerializer):
    item_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=20_000)
    limit = serializers.IntegerField(min_value=1, max_value=20_000, default=1000)


class PushResultSerializer(serializers.Serializer):
    pushed = serializers.IntegerField(help_text="New Label Studio tasks")
    already_pushed = serializers.IntegerField(help_text="Named items that have a task already (never sent twice)")
    skipped_clips = serializers.IntegerField(help_text="Named clip items: Label Studio gets still images only")


class SyncResultSerializer(serializers.Serializer):
    confirmed = serializers.IntegerField(required=False)
    received = serializers.IntegerField(required=False)
    returned = serializers.IntegerField(required=False, help_text="Items back in Loupe's queue: their tasks were "
                                                                  "deleted in Label Studio (found when webhooks are off)")
    renewed = serializers.IntegerField(required=False)
    pushed = serializers.IntegerField(required=False)
    skipped = serializers.CharField(required=False)


def _admin_link(request: Request, project_id: int) -> LabelStudioLink:
    project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
    link = project_link(project)
    if link is None:
        raise NotFound("This project has no Label Studio link.", code="not_linked")
    return link


class ProjectLinkView(APIView):
    """`GET/PUT/DELETE /api/v1/projects/{id}/labelstudio`: the project's Label Studio link and its status."""

    @extend_schema(operation_id="labelstudio_link", responses={200: LinkStatusSerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        link = project_link(project)
        return Response(LinkStatusSerializer(link_status(link)).data if link else {"linked": False})

    @extend_schema(operation_id="labelstudio_link_save", request=LinkWriteSerializer,
                   responses={200: LinkStatusSerializer, **error_responses(400, 401, 403, 404, 409, 502)})
    def put(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = LinkWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        loupe_url = data.get("loupe_url") or settings.LOUPE_PUBLIC_URL or request.build_absolute_uri("/")
        link = link_project(project=project, user=request.user, wanted=LinkSettings(
            url=data["url"], token=data["token"], loupe_url=loupe_url, ls_project_id=data.get("ls_project_id"),
            auto_push=data["auto_push"], push_filter=data.get("push_filter") or {},
            webhooks_enabled=data["webhooks_enabled"]))
        return Response(LinkStatusSerializer(link_status(link)).data)

    @extend_schema(operation_id="labelstudio_unlink", responses={204: None, **ERRORS})
    def delete(self, request: Request, project_id: int) -> Response:
        unlink(link=_admin_link(request, project_id), user=request.user)
        return Response(status=204)


class PushView(APIView):
    """`POST /api/v1/projects/{id}/labelstudio/push`: pending still-image items become Label Studio tasks —
    the named ones, or the highest-priority ones matching reasons/priority/sites, up to `limit`."""

    @extend_schema(operation_id="labelstudio_push", request=PushSerializer,
                   responses={200: PushResultSerializer, **error_responses(400, 401, 403, 404, 502)})
    def post(self, request: Request, project_id: int) -> Response:
        link = _admin_link(request, project_id)
        body = PushSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        report = push(link=link, actor=request.user, selection=Selection(
            item_ids=data.get("item_ids"), reasons=data.get("reasons"), min_priority=data.get("min_priority"),
            site_ids=data.get("site_ids"), limit=data["limit"]))
        return Response(PushResultSerializer(report).data)


class SyncView(APIView):
    """`POST /api/v1/projects/{id}/labelstudio/sync`: poll now (also while backing off); 502 when it fails."""

    @extend_schema(operation_id="labelstudio_sync", request=None,
                   responses={200: SyncResultSerializer, **error_responses(401, 403, 404, 502)})
    def post(self, request: Request, project_id: int) -> Response:
        return Response(SyncResultSerializer(sync(_admin_link(request, project_id), force=True)).data)


class WebhookReceiverView(APIView):
    """`POST /api/v1/labelstudio/links/{id}/webhook`: Label Studio's webhook, authenticated by the link's secret
    in `X-Loupe-Link-Secret` (401 and nothing read otherwise)."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    parser_classes = [JSONParser]

    @extend_schema(operation_id="labelstudio_webhook", auth=[], request={"application/json": OpenApiTypes.OBJECT},
                   parameters=[OpenApiParameter("X-Loupe-Link-Secret", str, OpenApiParameter.HEADER, required=True)],
                   responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 404, 413)})
    def post(self, request: Request, link_id: int) -> Response:
        link = LabelStudioLink.objects.select_related("project", "agent").filter(pk=link_id).first()
        link = check_webhook_secret(link, request.headers.get("X-Loupe-Link-Secret"))
        return Response(receive_webhook(link, request.data))


class MediaView(APIView):
    """`GET /api/v1/labelstudio/links/{id}/media/{sha256}?token=…`: an image of a pushed task, for a holder of
    its signed, expiring link, as the project's annotators see it (faces blurred where the project says)."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    content_negotiation_class = FilesWithJsonErrors

    @extend_schema(operation_id="labelstudio_media", auth=[],
                   parameters=[OpenApiParameter("token", str, required=True)],
                   responses={(200, "image/*"): OpenApiTypes.BINARY, **error_responses(403, 404)})
    def get(self, request: Request, link_id: int, sha256: str) -> Any:
        link = link_for_media(link_id=link_id, sha256=sha256, token=request.query_params.get("token", ""))
        access = access_asset_media(user=link.agent, sha256=sha256)
        return file_response(request, served_media.still(user=link.agent, access=access, original=False))
