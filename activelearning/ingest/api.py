"""Device API (API.md, "Devices"): thin views over the ingest services."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from activelearning.ingest.heartbeat import record_heartbeat
from activelearning.ingest.media_store import check_sha256, store_media
from activelearning.ingest.serializers import (
    AssetSerializer,
    EventBatchResponseSerializer,
    HeartbeatResponseSerializer,
    HeartbeatSerializer,
)
from activelearning.ingest.services import ingest_events
from activelearning.rollouts.decision import desired_model_for
from annotations.api.devices import DeviceView
from annotations.api.errors import error_responses
from annotations.auth import touch_last_seen
from annotations.errors import InvalidInput, TooLarge, UnsupportedMedia
from annotations.models import Asset, AssetHolding
from annotations.throttling import DeviceEventsThrottle, DeviceHeartbeatThrottle, DeviceMediaThrottle
from loupe_wire import BatchMalformed, BatchTooLarge

ERRORS = error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429)


def _content_length(request: Request) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput("Content-Length is not a number.", code="invalid_content_length") from exc
    if value < 0:
        raise InvalidInput("Content-Length is negative.", code="invalid_content_length")
    return value


class MediaView(DeviceView):
    """`PUT /api/v1/media/{sha256}` uploads a frame or clip; `HEAD` tells whether the device's project has it."""

    throttle_classes = [DeviceMediaThrottle]

    @extend_schema(
        operation_id="media_upload",
        request={"image/jpeg": OpenApiTypes.BINARY, "image/png": OpenApiTypes.BINARY,
                 "video/mp4": OpenApiTypes.BINARY},
        responses={200: AssetSerializer, 201: AssetSerializer, **ERRORS},
        parameters=[OpenApiParameter("sha256", str, OpenApiParameter.PATH, description="64 lowercase hex")],
    )
    def put(self, request: Request, sha256: str) -> Response:
        outcome = store_media(
            device=self.device, sha256=sha256, content_type=request.META.get("CONTENT_TYPE", ""),
            content_length=_content_length(request), read=request._request.read,
        )
        touch_last_seen(self.device)
        return Response(_asset_payload(outcome.asset), status=201 if outcome.created else 200)

    @extend_schema(operation_id="media_exists", responses={200: None, 404: None, 429: None},
                   parameters=[OpenApiParameter("sha256", str, OpenApiParameter.PATH)])
    def head(self, request: Request, sha256: str) -> HttpResponse:
        check_sha256(sha256)
        # Whether the device's project has it: another project's media is absent for this one.
        held = AssetHolding.objects.filter(project_id=self.device.project_id, asset__sha256=sha256).exists()
        return HttpResponse(status=200 if held else 404)


def _asset_payload(asset: Asset) -> dict[str, object]:
    return AssetSerializer(asset).data  # type: ignore[return-value]


class EventsView(DeviceView):
    """`POST /api/v1/events`: a batch of device events, one result per event."""

    throttle_classes = [DeviceEventsThrottle]

    @extend_schema(
        operation_id="events_ingest",
        request={"application/json": {"$ref": "#/components/schemas/_BatchDoc"}},
        responses={200: EventBatchResponseSerializer, **ERRORS},
    )
    def post(self, request: Request) -> HttpResponse:
        media_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if media_type != "application/json" and _content_length(request):  # (an empty body is malformed below)
            raise UnsupportedMedia("A batch is JSON (Content-Type: application/json).",
                                   details={"content_type": media_type})
        length = _content_length(request)
        if length is not None and length > settings.LOUPE_MAX_BATCH_BYTES:
            raise TooLarge(f"The batch body is {length} bytes; the limit is {settings.LOUPE_MAX_BATCH_BYTES}.",
                           code="batch_too_large", details={"max_bytes": settings.LOUPE_MAX_BATCH_BYTES})
        try:
            results = ingest_events(device=self.device, body=request._request.body)
        except BatchMalformed as exc:
            raise InvalidInput(str(exc), code="malformed_json") from exc
        except BatchTooLarge as exc:
            raise TooLarge(str(exc), code="batch_too_large",
                           details={"events": exc.count, "max_events": exc.limit}) from exc
        touch_last_seen(self.device)
        body = orjson.dumps({"results": [r.as_dict() for r in results]})
        return HttpResponse(body, content_type="application/json")


class HeartbeatView(DeviceView):
    """`POST /api/v1/heartbeat`: device and camera health; answers with the desired model and server time."""

    throttle_classes = [DeviceHeartbeatThrottle]

    @extend_schema(operation_id="device_heartbeat", request=HeartbeatSerializer,
                   responses={200: HeartbeatResponseSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        serializer = HeartbeatSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        cameras = data.pop("cameras", [])
        record_heartbeat(device=self.device, health=data, cameras=cameras)
        return Response({"model": desired_model_for(self.device), "server_time": timezone.now().isoformat()})
