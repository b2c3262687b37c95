"""Count flags API (API.md, "People"): a camera's model counts over time, and flags on a window. Thin views."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import error_responses
from annotations.models import Camera, Site
from annotations.selectors import access_project
from reviewer.flags import (
    BUCKETS,
    DEFAULT_BUCKET,
    FLAG_LIST_ROLES,
    FLAG_ROLES,
    access_camera,
    camera_counts,
    camera_flags,
    counts_window,
    create_count_flag,
    flag_payload,
    flag_window,
    visible_cameras,
    window_preview,
)

ERRORS = error_responses(400, 401, 403, 404)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an explicit offset or `Z`: a naive time would silently mean the server's zone."""

    default_error_messages = {"naive": "Give a timezone (e.g. `Z` or `+02:00`)."}

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class CountsQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword, hence the field names below and the renaming in `validate`.
    bucket = serializers.ChoiceField(choices=sorted(BUCKETS), default=DEFAULT_BUCKET)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = AwareDateTimeField(required=False)
        fields["to"] = AwareDateTimeField(required=False)
        return fields


class CountFlagSerializer(serializers.Serializer):
    observed_count = serializers.IntegerField(min_value=0, max_value=1_000_000)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = AwareDateTimeField()
        fields["to"] = AwareDateTimeField()
        return fields


class CameraCountsView(APIView):
    @extend_schema(
        operation_id="camera_counts",
        parameters=[OpenApiParameter("from", str, description="ISO 8601 with timezone; default to - 24 h"),
                    OpenApiParameter("to", str, description="ISO 8601 with timezone; default now"),
                    OpenApiParameter("bucket", str, enum=sorted(BUCKETS), description="default 1h")],
        responses={200: OpenApiResponse(description="series and detections per bucket"), **ERRORS},
    )
    def get(self, request: Request, camera_id: int) -> Response:
        camera, _ = access_camera(user=request.user, camera_id=camera_id)
        query = CountsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        window = counts_window(start=data.get("from"), end=data.get("to"))
        return Response(camera_counts(camera=camera, window=window, bucket=data["bucket"]))


class WindowQuerySerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = AwareDateTimeField()
        fields["to"] = AwareDateTimeField()
        return fields


class CameraCountWindowView(APIView):
    """`GET /api/v1/cameras/{id}/counts/window?from&to`: the model's count in a window as a flag would store
    it, for the flag form (the one definition: `reviewer.flags.window_model_count`)."""

    @extend_schema(
        operation_id="camera_count_window",
        parameters=[OpenApiParameter("from", str, required=True, description="ISO 8601 with timezone"),
                    OpenApiParameter("to", str, required=True, description="ISO 8601 with timezone")],
        responses={200: inline_serializer("CountWindow", {
            "camera": serializers.IntegerField(), "from": serializers.DateTimeField(),
            "to": serializers.DateTimeField(), "model_count": serializers.IntegerField(),
            "assets": serializers.IntegerField(help_text="frames/clips the reviewer will get")}), **ERRORS},
    )
    def get(self, request: Request, camera_id: int) -> Response:
        camera, _ = access_camera(user=request.user, camera_id=camera_id, roles=FLAG_ROLES)
        query = WindowQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return Response(window_preview(camera=camera, window=flag_window(start=data["from"], end=data["to"])))


class CameraCountFlagsView(APIView):
    @extend_schema(operation_id="camera_count_flags",
                   responses={200: OpenApiResponse(description="the camera's flags, newest first"), **ERRORS})
    def get(self, request: Request, camera_id: int) -> Response:
        camera, membership = access_camera(user=request.user, camera_id=camera_id, roles=FLAG_LIST_ROLES)
        return Response({"results": [flag_payload(flag) for flag in camera_flags(camera=camera,
                                                                                  membership=membership)]})

    @extend_schema(operation_id="camera_count_flag_create", request=CountFlagSerializer,
                   responses={201: OpenApiResponse(description="the flag and its review item"), **ERRORS})
    def post(self, request: Request, camera_id: int) -> Response:
        camera, _ = access_camera(user=request.user, camera_id=camera_id, roles=FLAG_ROLES)
        body = CountFlagSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        flag = create_count_flag(
            camera=camera, user=request.user, window=flag_window(start=data["from"], end=data["to"]),
            observed_count=data["observed_count"], note=data["note"],
        )
        return Response(flag_payload(flag), status=201)


class CameraSiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "kind"]


class ProjectCameraSerializer(serializers.ModelSerializer):
    site = CameraSiteSerializer()
    open_flags = serializers.IntegerField(help_text="Count flags on this camera not yet reviewed.")

    class Meta:
        model = Camera
        fields = ["id", "name", "site", "last_seen_at", "open_flags"]


class ProjectCamerasView(APIView):
    """`GET /api/v1/projects/{id}/cameras/`: the cameras whose counts the caller may see (a store manager or an
    operator only those of their sites), for the counts page's camera picker."""

    @extend_schema(operation_id="project_cameras", responses={200: ProjectCameraSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        _, membership = access_project(user=request.user, project_id=project_id)
        return Response(ProjectCameraSerializer(visible_cameras(membership=membership), many=True).data)
