"""Server pre-labels of one item, for the editor and QA: the runs so far, and a run on demand."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.registry.models import ModelStatus, ModelVersion, PrelabelRun
from activelearning.registry.prelabels import prelabel_item
from annotations.api.errors import error_responses
from annotations.errors import Conflict, InvalidInput, NotFound
from annotations.int64 import INT64_MAX
from annotations.models import Asset, AssetKind, Role
from reviewer.access import access_review_item

ERRORS = error_responses(400, 401, 403, 404, 409)
RUN_ROLES = (Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER, Role.OPERATOR)


class RunModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    status = serializers.CharField()


class PrelabelRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = RunModelSerializer(source="model_version")
    frame_index = serializers.IntegerField(allow_null=True, help_text="The clip frame it ran on; null: the item's own")
    status = serializers.CharField()
    boxes = serializers.SerializerMethodField()
    error = serializers.CharField()
    timings_ms = serializers.DictField(child=serializers.FloatField())
    created_at = serializers.DateTimeField()

    def get_boxes(self, run: PrelabelRun) -> list[dict[str, Any]]:
        return run.prediction.detections if run.prediction is not None else []


class RunRequestSerializer(serializers.Serializer):
    model = serializers.IntegerField(required=False, min_value=1, max_value=INT64_MAX, help_text="A model of the project (admins); default: champion")
    frame_index = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX,
                                           help_text="A clip item only: run on this frame of the clip (0-based)")


def check_clip_frame(asset: Asset, frame_index: int) -> None:
    """Refuse a frame number on a still, or past the clip's last frame, before anything runs."""
    if asset.kind != AssetKind.CLIP:
        raise InvalidInput("Only a clip has frames to choose from.", code="not_a_clip",
                         details={"frame_index": ["Leave it out for a still frame."]})
    if asset.frame_count is not None and frame_index >= asset.frame_count:
        raise InvalidInput(f"The clip has {asset.frame_count} frames (0 to {asset.frame_count - 1}).",
                         code="frame_out_of_range", details={"frame_index": [f"At most {asset.frame_count - 1}."]})


class ItemPrelabelsView(APIView):
    @extend_schema(operation_id="item_prelabels", responses={200: PrelabelRunSerializer(many=True), **ERRORS})
    def get(self, request: Request, item_id: int) -> Response:
        item, _ = access_review_item(user=request.user, item_id=item_id)
        runs = (PrelabelRun.objects.filter(review_item_id=item.pk).select_related("model_version", "prediction")
                .order_by("-created_at", "-id"))
        return Response(PrelabelRunSerializer(runs, many=True).data)

    @extend_schema(operation_id="item_prelabel_run", request=RunRequestSerializer,
                   responses={200: PrelabelRunSerializer, 201: PrelabelRunSerializer, **ERRORS})
    def post(self, request: Request, item_id: int) -> Response:
        item, membership = access_review_item(user=request.user, item_id=item_id, roles=RUN_ROLES)
        body = RunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        models = ModelVersion.objects.filter(project_id=item.project_id, out_of_service=False)
        if "model" in body.validated_data and membership.role == Role.ADMIN:
            model = models.filter(pk=body.validated_data["model"]).first()
            if model is None:
                raise NotFound("No such model in this project, or it is out of service.")
        else:
            model = models.filter(status=ModelStatus.CHAMPION).first()
            if model is None:
                raise Conflict("This project has no champion model in service.", code="no_champion")
        if item.asset is None:
            raise Conflict("This item has no frame to run a model on.", code="no_media")
        frame_index = body.validated_data.get("frame_index")
        if frame_index is not None:
            check_clip_frame(item.asset, frame_index)
        run = prelabel_item(item=item, model=model, frame_index=frame_index)
        created = run is not None
        run = PrelabelRun.objects.select_related("model_version", "prediction").get(
            review_item=item, model_version=model, frame_index=frame_index)
        return Response(PrelabelRunSerializer(run).data, status=201 if created else 200)
