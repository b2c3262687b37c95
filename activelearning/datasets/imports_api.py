"""Imports API: a file of labels (Label Studio JSON, JSON-MIN or CSV; COCO; or a Loupe export's zip or tar: COCO,
YOLO, VOC, Label Studio) becomes review items with pre-labels (admins)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.datasets.imports import import_labels
from annotations.api.errors import error_responses
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404, 413)


class RawJsonParser(BaseParser):
    """Leave the body unparsed: the service detects its format from its content and reports where it is wrong.

    `parse` must still exist: the session's CSRF check reads `request.POST`, which asks the parser; it reads
    nothing, so an outsider's request is refused before any of the body is touched and `request.body` stays
    readable for the service.
    """

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {}


class ImportResultSerializer(serializers.Serializer):
    format = serializers.CharField(
        help_text="As detected from the content: label-studio, label-studio-min, label-studio-csv, coco, yolo, voc "
                  "or csv")
    items = serializers.IntegerField(help_text="Images queued for review (with `dry_run`: that would be)")
    boxes = serializers.IntegerField(help_text="Their boxes")
    already_present = serializers.IntegerField(
        help_text="Images whose boxes Loupe already holds (an earlier import, or their newest annotation): "
                  "not queued again, so importing the same file twice is a no-op")
    dry_run = serializers.BooleanField()
    item_ids = serializers.ListField(child=serializers.IntegerField())


class ProjectImportsView(APIView):
    """`POST /api/v1/projects/{id}/imports`: the body is the file itself (JSON, XML, CSV, or a zip or tar archive);
    all of it or nothing is stored.
    `?dry_run=true` validates and reports without writing (200); an import that adds nothing is 200 too."""

    parser_classes = [RawJsonParser]

    @extend_schema(operation_id="project_import", request={"application/json": OpenApiTypes.OBJECT,
                                                            "application/zip": OpenApiTypes.BINARY,
                                                            "application/x-tar": OpenApiTypes.BINARY,
                                                            "text/csv": OpenApiTypes.BINARY,
                                                            "application/xml": OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("dry_run", bool, description="Validate and report; write nothing")],
                   responses={201: ImportResultSerializer, 200: ImportResultSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        dry_run = request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")
        summary = import_labels(project=project, user=request.user, body=request.body, dry_run=dry_run)
        return Response(ImportResultSerializer(summary).data, status=201 if summary["items"] and not dry_run else 200)
