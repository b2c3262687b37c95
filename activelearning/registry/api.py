"""Model registry API (API.md, "Models"): upload and list per project, promote and roll back (admins), and the
over-the-air pair for devices: the current champion (ETag) and the file (Range, for resumable downloads)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning import jobs
from activelearning.datasets.downloads import ranged_file_response
from activelearning.registry.evaluation import MIN_COMPARISON_FRAMES, start_evaluation
from activelearning.registry.models import (
    EvaluationStatus,
    ModelEvaluation,
    ModelVersion,
)
from activelearning.registry.selectors import access_model
from activelearning.registry.services import (
    ModelUpload,
    register_model,
)
from annotations.api.assets import FilesWithJsonErrors
from annotations.api.errors import error_responses
from annotations.auth import DeviceBearerIfPresent
from annotations.errors import NotFound
from annotations.int64 import INT64_MAX
from annotations.models import Device, Role
from annotations.selectors import access_project
from annotations.token_auth import UserTokenAuthentication

ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422)
MODEL_FIELDS = ["id", "project", "name", "version", "sha256", "size_bytes", "input_width", "input_height",
                "classes", "opset", "conf_threshold", "status", "replaces", "promoted_at", "out_of_service", "out_of_service_reason",
                "metadata", "dataset_version", "code_version", "created_at"]


class ModelVersionSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    file_url = serializers.SerializerMethodField()
    display_name = serializers.CharField(read_only=True, help_text='The one name every page shows: "<name> v<version>".')

    class Meta:
        model = ModelVersion
        fields = [*MODEL_FIELDS, "display_name", "uploaded_by", "approved_by", "file_url"]

    def get_file_url(self, model: ModelVersion) -> str:
        return f"/api/v1/models/{model.pk}/file"


class ModelUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A self-contained .onnx file ([1, 3, H, W] in, [1, 4 + C, N] out)")
    name = serializers.CharField(max_length=120)
    classes = serializers.CharField(required=False, help_text='JSON list of class names in output order, '
                                    'e.g. ["person"]; read from the ONNX `names` metadata when left out')
    input_width = serializers.IntegerField(required=False, min_value=32, max_value=4096)
    input_height = serializers.IntegerField(required=False, min_value=32, max_value=4096)
    conf_threshold = serializers.FloatField(required=False, min_value=0.0, max_value=1.0,
                                            help_text="operating point for pre-labels (default 0.25)")

    def validate_name(self, value: str) -> str:
        # The name goes into the download's file name and every page: no line breaks or other control characters.
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
            raise serializers.ValidationError("The name may not contain control characters or line breaks.")
        return value

    def validate_classes(self, value: str) -> list[str]:
        try:
            classes = json.loads(value)
        except ValueError as exc:
            raise serializers.ValidationError("Give a JSON list of class names.") from exc
        if (not isinstance(classes, list) or not classes or len(classes) > 1000
                or not all(isinstance(c, str) and 0 < len(c) <= 64 for c in classes)):
            raise serializers.ValidationError("Give a JSON list of 1–1000 class names (1–64 characters each).")
        if len(set(classes)) != len(classes):
            raise serializers.ValidationError("Class names must be distinct.")
        return classes

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("input_width" in attrs) != ("input_height" in attrs):
            raise serializers.ValidationError({"input_width": "Give both input_width and input_height, or neither."})
        return attrs


class ProjectModelsView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(operation_id="project_models", responses={200: ModelVersionSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id)
        models = ModelVersion.objects.filter(project=project).select_related("uploaded_by", "approved_by")
        return Response(ModelVersionSerializer(models.order_by("-version"), many=True).data)

    @extend_schema(operation_id="project_model_upload", request={"multipart/form-data": ModelUploadSerializer},
                   responses={201: ModelVersionSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = ModelUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        size = (data["input_width"], data["input_height"]) if "input_width" in data else None
        model = register_model(project=project, user=request.user, upload=ModelUpload(
            file=data["file"], name=data["name"], classes=data.get("classes"), input_size=size,
            conf_threshold=data.get("conf_threshold")))
        return Response(ModelVersionSerializer(model).data, status=201)


class ModelFileView(APIView):
    """`GET /api/v1/models/{id}/file`: the ONNX file for a device of the project or an admin; Range requests
    resume a broken download (206, or 416 for a range past the end)."""

    authentication_classes = [DeviceBearerIfPresent, SessionAuthentication, UserTokenAuthentication]
    content_negotiation_class = FilesWithJsonErrors

    @extend_schema(operation_id="model_file", responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                                                         (206, "application/octet-stream"): OpenApiTypes.BINARY,
                                                         **ERRORS})
    def get(self, request: Request, model_id: int) -> Any:
        if isinstance(request.auth, Device):
            model = ModelVersion.objects.filter(pk=model_id, project_id=request.auth.project_id).first()
            if model is None:
                raise NotFound("Not found.")
        else:
            model = access_model(user=request.user, model_id=model_id, roles=[Role.ADMIN])
        return ranged_file_response(request, str(model.file.name), etag=f'"{model.sha256}"',
                                    content_type="application/octet-stream",
                                    filename=f"{model.name}-v{model.version}.onnx")


class EvaluationSerializer(serializers.ModelSerializer):
    model = serializers.IntegerField(source="model_version_id")
    dataset_number = serializers.IntegerField(source="dataset_version.number", allow_null=True, read_only=True,
                                              help_text="The version's number in its project (v1, v2, …).")
    baseline = serializers.IntegerField(source="baseline_id", allow_null=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    report = serializers.JSONField(help_text="{candidate, champion?, frames}: mAP@0.5, mAP@0.5:0.95, precision, "
                                             "recall, count MAE, the score threshold each was scored at and its "
                                             "source, and `slices` per site, camera, lighting and crowd")
    frames_source = serializers.SerializerMethodField(help_text=(
        "dataset_test: a dataset version's test split; held_out_no_dataset: hash held-out frames, no version "
        "frozen yet; held_out_no_test_split: hash held-out frames minus every trained frame, no version has a "
        "test split"))
    min_frames = serializers.SerializerMethodField(help_text="Frames needed before a difference is called.")
    too_few_frames = serializers.SerializerMethodField(help_text=(
        "Fewer frames than min_frames: the numbers are shown, no model is called better or worse."))

    class Meta:
        model = ModelEvaluation
        fields = ["id", "model", "baseline", "dataset_version", "dataset_number", "status", "images", "report",
                  "frames_source", "min_frames", "too_few_frames", "error", "requested_by", "created_at",
                  "finished_at"]
        extra_kwargs = {"dataset_version": {"help_text": "The dataset version whose test split was evaluated; "
                                                         "null: the hash held-out frames (no version existed)."}}


    def get_frames_source(self, evaluation: ModelEvaluation) -> str:
        frames = (evaluation.report or {}).get("frames") or {}
        return str(frames.get("source") or ("dataset_test" if evaluation.dataset_version_id else "held_out_no_dataset"))

    def get_min_frames(self, evaluation: ModelEvaluation) -> int:
        return MIN_COMPARISON_FRAMES

    def get_too_few_frames(self, evaluation: ModelEvaluation) -> bool:
        return evaluation.status == EvaluationStatus.DONE and evaluation.images < MIN_COMPARISON_FRAMES


class EvaluationRequestSerializer(serializers.Serializer):
    dataset_version = serializers.IntegerField(required=False, min_value=1, max_value=INT64_MAX, help_text=(
        "Evaluate on this dataset version's test split (a version of the model's project); by default the "
        "latest version that has one."))


class EvaluationView(APIView):
    """`GET /api/v1/models/{id}/evaluation`: the latest shadow evaluation; `POST` starts one (admins)."""

    @extend_schema(operation_id="model_evaluation", responses={200: EvaluationSerializer, **ERRORS})
    def get(self, request: Request, model_id: int) -> Response:
        model = access_model(user=request.user, model_id=model_id)
        evaluation = (model.evaluations.select_related("requested_by", "dataset_version")
                      .order_by("-created_at", "-id").first())
        if evaluation is None:
            raise NotFound("This model has not been evaluated yet.", code="not_evaluated")
        return Response(EvaluationSerializer(evaluation).data)

    @extend_schema(operation_id="model_evaluation_start", request=EvaluationRequestSerializer,
                   responses={202: EvaluationSerializer, **ERRORS})
    def post(self, request: Request, model_id: int) -> Response:
        model = access_model(user=request.user, model_id=model_id, roles=[Role.ADMIN])
        body = EvaluationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            evaluation = start_evaluation(model=model, user=request.user,
                                          dataset_version_id=body.validated_data.get("dataset_version"))
            jobs.kick("registry.evaluate", evaluation_id=evaluation.pk)
        evaluation.refresh_from_db()
        return Response(EvaluationSerializer(evaluation).data, status=202)
