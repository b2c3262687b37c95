"""Numbers API (docs/counts-api.md): `GET /api/v1/projects/{id}/counts` (rows, paged, or all of them as CSV)
and `GET /api/v1/projects/{id}/counts/summary` (per site and camera, with the trend). Admins and reviewers see
every site, store managers and bus operators only theirs; outsiders get 404, annotators 403. Thin views."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.numbers.report import (
    BUCKETS,
    DEFAULT_BUCKET,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    NumbersQuery,
    all_rows,
    camera_summaries,
    count_rows,
    decode_cursor,
    encode_cursor,
    report_window,
)
from activelearning.registry.models import ModelVersion
from annotations.api.errors import error_responses
from annotations.errors import InvalidInput
from annotations.models import SCOPED_ROLES, Role, Site
from annotations.selectors import access_project
from reviewer.api.flag_views import AwareDateTimeField
from reviewer.flags import visible_cameras

ERRORS = error_responses(400, 401, 403, 404)
NUMBERS_ROLES = (Role.ADMIN, Role.REVIEWER, Role.MANAGER, Role.OPERATOR)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CSV_COLUMNS = ["site", "site_name", "camera", "camera_name", "bucket_start", "bucket", "model_sha256",
               "model_version", "model_name", "model_count", "corrected_windows", "flag_windows", "review_windows",
               "wrong_windows", "corrected_model_count", "corrected_count", "absolute_error", "relative_error",
               "error_rate"]


class CSVRenderer(BaseRenderer):
    """Lets content negotiation accept `Accept: text/csv` and `?format=csv`; the view streams the body itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict[str, Any] | None = None) -> bytes:
        # Only errors reach a renderer (rows are streamed): as JSON, whatever was asked for.
        return JSONRenderer().render(data)


class NumbersFilterSerializer(serializers.Serializer):
    site = serializers.IntegerField(required=False, min_value=1)
    camera = serializers.IntegerField(required=False, min_value=1)
    model = serializers.CharField(required=False, max_length=64,
                                  help_text="A model version id of the project, or a model's sha256.")
    bucket = serializers.ChoiceField(choices=list(BUCKETS), default=DEFAULT_BUCKET)
    corrected_only = serializers.BooleanField(required=False, default=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = AwareDateTimeField(required=False)  # `from` is a Python keyword
        fields["to"] = AwareDateTimeField(required=False)
        return fields


class NumbersPageSerializer(NumbersFilterSerializer):
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE,
                                         default=DEFAULT_PAGE_SIZE)
    cursor = serializers.CharField(required=False, max_length=512)
    format = serializers.ChoiceField(choices=["json", "csv"], required=False)


def _numbers_query(request: Request, project_id: int, data: dict[str, Any]) -> NumbersQuery:
    """The report the caller may see with these filters: a site or camera they cannot see is a 400 beside its
    field (the same answer as one of another project: nothing leaks)."""
    project, membership = access_project(user=request.user, project_id=project_id, roles=NUMBERS_ROLES)
    cameras = {camera.pk: camera for camera in visible_cameras(membership=membership)}
    if "site" in data:
        sites = Site.objects.filter(project=project, pk=data["site"])
        if membership.role in SCOPED_ROLES:
            sites = sites.filter(pk__in=membership.sites.values("pk"))
        if not sites.exists():
            raise InvalidInput("Unknown site.", details={"site": "not a site of this project you can see"})
        cameras = {pk: c for pk, c in cameras.items() if c.site_id == data["site"]}
    if "camera" in data:
        if data["camera"] not in cameras:
            raise InvalidInput("Unknown camera.", details={"camera": "not a camera of this project you can see"})
        cameras = {data["camera"]: cameras[data["camera"]]}
    start, end = report_window(start=data.get("from"), end=data.get("to"), bucket=data["bucket"],
                               now=timezone.now())
    return NumbersQuery(project_id=project.pk, cameras=cameras, start=start, end=end, bucket=data["bucket"],
                        model_sha256=_model_sha(project.pk, data.get("model")),
                        corrected_only=data["corrected_only"])


def _model_sha(project_id: int, model: str | None) -> str | None:
    if model is None:
        return None
    if SHA256.match(model):
        return model
    sha = (ModelVersion.objects.filter(project_id=project_id, pk=int(model)).values_list("sha256", flat=True).first()
           if model.isdigit() and len(model) <= 18 else None)
    if sha is None:
        raise InvalidInput("Unknown model.", details={"model": "a model version id of this project or a sha256"})
    return sha


# Names people or devices typed: a spreadsheet would run a cell starting with one of these as a formula (OWASP
# "CSV injection"), so such a cell is written with a leading apostrophe. Numbers and hashes never start so.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = ("site_name", "camera_name", "model_name")


def _csv_cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column in TEXT_COLUMNS and str(value).startswith(FORMULA_START):
        return f"'{value}"
    return value


def _csv_lines(query: NumbersQuery) -> Iterator[str]:
    class Line:
        def write(self, value: str) -> str:
            return value

    writer = csv.DictWriter(Line(), fieldnames=CSV_COLUMNS, extrasaction="ignore")  # type: ignore[type-var]
    yield writer.writeheader()  # type: ignore[misc]
    for row in all_rows(query=query):
        yield writer.writerow({k: _csv_cell(k, v) for k, v in row.items()})


def _row_fields() -> dict[str, serializers.Field]:
    """A row's fields, fresh each call (a serializer class takes its fields away from the dict it is built from)."""
    return {
        "site": serializers.IntegerField(), "site_name": serializers.CharField(), "camera": serializers.IntegerField(),
        "camera_name": serializers.CharField(), "bucket_start": serializers.DateTimeField(),
        "bucket": serializers.ChoiceField(choices=list(BUCKETS)), "model_sha256": serializers.CharField(),
        "model_version": serializers.IntegerField(allow_null=True, help_text="The registry's model version id."),
        "model_name": serializers.CharField(), "model_count": serializers.IntegerField(),
        "corrected_windows": serializers.IntegerField(), "flag_windows": serializers.IntegerField(),
        "review_windows": serializers.IntegerField(), "wrong_windows": serializers.IntegerField(),
        "corrected_model_count": serializers.IntegerField(allow_null=True),
        "corrected_count": serializers.IntegerField(allow_null=True),
        "absolute_error": serializers.IntegerField(allow_null=True),
        "relative_error": serializers.FloatField(allow_null=True), "error_rate": serializers.FloatField(allow_null=True),
    }


FILTER_PARAMETERS = [
    OpenApiParameter("from", str, description="ISO 8601 with timezone; default `to` - 30 days"),
    OpenApiParameter("to", str, description="ISO 8601 with timezone; default now"),
]


class ProjectCountsView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # DRF answers an unknown `?format=` with a bare 404; it is bad input, said beside the field.
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            raise InvalidInput("Unknown format.", details={"format": "json or csv"}) from None

    @extend_schema(
        operation_id="project_counts", parameters=[NumbersPageSerializer, *FILTER_PARAMETERS],
        responses={200: OpenApiResponse(inline_serializer("CountRows", {
            "results": inline_serializer("CountRow", _row_fields(), many=True),
            "next": serializers.CharField(allow_null=True),
            "from": serializers.DateTimeField(), "to": serializers.DateTimeField(),
            "bucket": serializers.CharField()}), description="rows, or the CSV of every row with `format=csv`"),
            **ERRORS},
    )
    def get(self, request: Request, project_id: int) -> Response | StreamingHttpResponse:
        params = NumbersPageSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        query = _numbers_query(request, project_id, data)
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(_csv_lines(query), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="counts-project-{project_id}.csv"'
            return response
        after = decode_cursor(data["cursor"]) if "cursor" in data else None
        rows, last = count_rows(query=query, after=after, limit=data["page_size"])
        next_url = None
        if last is not None:
            params_next = request.query_params.copy()
            params_next["cursor"] = encode_cursor(last)
            next_url = request.build_absolute_uri(f"{request.path}?{params_next.urlencode()}")
        return Response({"results": rows, "next": next_url, "from": query.start.isoformat(),
                         "to": query.end.isoformat(), "bucket": query.bucket})


SUMMARY_FIELDS = {
    **{name: field for name, field in _row_fields().items() if name in (
        "site", "site_name", "camera", "camera_name", "model_sha256", "model_version", "model_name", "model_count",
        "corrected_windows", "wrong_windows", "corrected_model_count", "corrected_count", "absolute_error",
        "relative_error", "error_rate")},
    "models": inline_serializer("CountModel", {
        "model_sha256": serializers.CharField(), "model_name": serializers.CharField(),
        "model_version": serializers.IntegerField(allow_null=True)}, many=True,
        help_text="Every model that counted in the window, in order of its first bucket."),
    "trend": inline_serializer("CountTrend", {
        "direction": serializers.ChoiceField(choices=["better", "worse", "flat"], allow_null=True),
        "recent": serializers.FloatField(allow_null=True), "previous": serializers.FloatField(allow_null=True),
        "buckets": serializers.IntegerField()},
        help_text="Relative error of the last corrected buckets against as many before them."),
}


class ProjectCountsSummaryView(APIView):
    @extend_schema(
        operation_id="project_counts_summary", parameters=[NumbersFilterSerializer, *FILTER_PARAMETERS],
        responses={200: inline_serializer("CountSummaries", {
            "results": inline_serializer("CountSummary", SUMMARY_FIELDS, many=True),
            "from": serializers.DateTimeField(), "to": serializers.DateTimeField(),
            "bucket": serializers.CharField()}), **ERRORS},
    )
    def get(self, request: Request, project_id: int) -> Response:
        params = NumbersFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = _numbers_query(request, project_id, params.validated_data)
        return Response({"results": camera_summaries(query=query), "from": query.start.isoformat(),
                         "to": query.end.isoformat(), "bucket": query.bucket})
