"""Retraining API: an admin's "retrain now", the project's dataset versions and training runs."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.api.serializers import ErrorSerializer
from activelearning.models import DatasetVersion, RetrainRequest, TrainingRun
from activelearning.retraining import request_retrain
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = {status: OpenApiResponse(ErrorSerializer) for status in (401, 403, 404, 409)}


class RetrainRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RetrainRequest
        fields = ["id", "project", "epoch", "trigger", "accepted_count", "requested_by", "created_at",
                  "dispatched_at"]


class DatasetVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetVersion
        fields = ["id", "project", "number", "parent", "request", "content_hash", "stats", "created_at"]


class TrainingRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingRun
        fields = ["id", "project", "dataset_version", "request", "backend", "status", "metrics", "model_version",
                  "error", "created_at", "started_at", "finished_at"]


class RetrainView(APIView):
    """`POST /api/v1/projects/{id}/retrain`: request a retrain of the current data now (admins; once per epoch)."""

    @extend_schema(operation_id="project_retrain", request=None, responses={201: RetrainRequestSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(RetrainRequestSerializer(request_retrain(project=project, user=request.user)).data,
                        status=201)


class DatasetListView(APIView):
    @extend_schema(operation_id="project_datasets", responses={200: DatasetVersionSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN, Role.REVIEWER])
        versions = DatasetVersion.objects.filter(project=project).order_by("-number")
        return Response(DatasetVersionSerializer(versions, many=True).data)


class TrainingRunListView(APIView):
    @extend_schema(operation_id="project_training_runs", responses={200: TrainingRunSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN, Role.REVIEWER])
        runs = TrainingRun.objects.filter(project=project).order_by("-created_at", "-id")[:100]
        return Response(TrainingRunSerializer(runs, many=True).data)
