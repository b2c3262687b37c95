"""Exports API: ask for an export of a dataset version, follow the job, download the archive (Range)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.datasets.download_links import export_for_download_token
from activelearning.datasets.downloads import ranged_file_response
from activelearning.datasets.exports import check_downloadable, export_file_name, request_export
from activelearning.datasets.models import ArchiveKind, DatasetVersion, ExportFormat, ExportJob
from annotations.api.assets import FilesWithJsonErrors
from annotations.api.errors import error_responses
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404, 409)
EXPORT_ROLES = (Role.ADMIN, Role.REVIEWER)


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    archive = serializers.ChoiceField(choices=ArchiveKind.choices, default=ArchiveKind.ZIP)
    include_images = serializers.BooleanField(default=True)
    image_root = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500,
        help_text="Label Studio export only: where Label Studio finds the images (e.g. `s3://bucket/loupe/images`, "
                  "`/data/local-files/?d=loupe/images`); data.image = this + `/` + the file name.")


class ExportJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "dataset_version", "format", "archive", "include_images", "image_root", "status", "progress",
                  "size_bytes", "sha256", "error", "attempts", "requested_by", "created_at", "started_at",
                  "finished_at", "download_url"]

    def get_download_url(self, job: ExportJob) -> str | None:
        return f"/api/v1/exports/{job.pk}/file" if job.status == "done" else None


def access_export(*, request: Request, export_id: int) -> ExportJob:
    """The job, if the caller is an admin or reviewer of its project (404 for anyone else)."""
    job = get_object_or_404(ExportJob.objects.select_related("dataset_version__project"), pk=export_id)
    access_project(user=request.user, project_id=job.dataset_version.project_id, roles=EXPORT_ROLES)
    return job


class DatasetExportsView(APIView):
    """`POST /api/v1/datasets/{id}/exports`: queue an export (admins and reviewers of the project)."""

    @extend_schema(operation_id="dataset_export", request=ExportRequestSerializer,
                   responses={202: ExportJobSerializer, **ERRORS})
    def post(self, request: Request, dataset_id: int) -> Response:
        version = get_object_or_404(DatasetVersion.objects.select_related("project"), pk=dataset_id)
        access_project(user=request.user, project_id=version.project_id, roles=EXPORT_ROLES)
        body = ExportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = request_export(version=version, user=request.user, **body.validated_data)
        return Response(ExportJobSerializer(job).data, status=202)


class ExportView(APIView):
    @extend_schema(operation_id="export_job", responses={200: ExportJobSerializer, **ERRORS})
    def get(self, request: Request, export_id: int) -> Response:
        return Response(ExportJobSerializer(access_export(request=request, export_id=export_id)).data)


class ExportFileView(APIView):
    """`GET /api/v1/exports/{id}/file`: the archive; Range resumes a broken download; 409 until it is done."""

    content_negotiation_class = FilesWithJsonErrors

    @extend_schema(operation_id="export_file", responses={200: OpenApiTypes.BINARY, 206: OpenApiTypes.BINARY,
                                                          **ERRORS})
    def get(self, request: Request, export_id: int) -> Any:
        job = access_export(request=request, export_id=export_id)
        check_downloadable(job)
        content_type = "application/zip" if job.archive == ArchiveKind.ZIP else "application/x-tar"
        return ranged_file_response(request, str(job.file.name), etag=f'"{job.sha256}"', content_type=content_type,
                                    filename=export_file_name(job))


class SignedExportFileView(APIView):
    """`GET /api/v1/exports/{id}/signed-file?token=…`: the archive for a holder of a signed, expiring link (the
    webhook trainer backend hands one to the external pipeline); no account. Range works; 409 until done."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    content_negotiation_class = FilesWithJsonErrors

    @extend_schema(operation_id="export_signed_file", auth=[],
                   responses={200: OpenApiTypes.BINARY, 206: OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, export_id: int) -> Any:
        job = export_for_download_token(export_id=export_id, token=request.query_params.get("token", ""))
        check_downloadable(job)
        content_type = "application/zip" if job.archive == ArchiveKind.ZIP else "application/x-tar"
        response = ranged_file_response(request, str(job.file.name), etag=f'"{job.sha256}"',
                                        content_type=content_type, filename=export_file_name(job))
        response["Cache-Control"] = "private, no-store"
        return response
