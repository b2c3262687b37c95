"""Device health API (docs/health.md), project admins only like the devices list (403 for other roles, 404 for
outsiders and for a device of another project):
`GET /api/v1/projects/{id}/devices/{device_id}/telemetry?since=&until=&bucket=` (one device's figures over
time, in buckets) and `GET /api/v1/projects/{id}/devices/telemetry-summary?hours=` (every device's sparklines)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.health.buckets import BUCKETS, MAX_POINTS, auto_bucket, bucket_count
from activelearning.health.selectors import (
    access_project_device,
    device_series,
    telemetry_summary,
)
from annotations.api.devices import DeviceSerializer
from annotations.api.errors import error_responses
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404)
DEFAULT_RANGE = timedelta(hours=24)
# Samples are kept LOUPE_TELEMETRY_DAYS (30 by default); a longer range would only chart emptiness.
MAX_RANGE = timedelta(days=31)
MAX_SUMMARY_HOURS = 48


class TelemetryQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="ISO 8601; default: 24 hours before `until`.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive; default: now.")
    bucket = serializers.ChoiceField(choices=list(BUCKETS), required=False, help_text=(
        f"Bucket width; default: the finest that keeps the range within {MAX_POINTS} buckets."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        until = attrs.get("until") or timezone.now()
        try:
            since = attrs.get("since") or until - DEFAULT_RANGE
        except OverflowError:  # `until` in the first day of year 1: no default range before it
            raise serializers.ValidationError({"until": ["Too early."]}) from None
        if since >= until:
            raise serializers.ValidationError({"since": ["Must be before `until`."]})
        if until - since > MAX_RANGE:
            raise serializers.ValidationError({"since": [f"A range spans at most {MAX_RANGE.days} days."]})
        bucket = attrs.get("bucket") or auto_bucket(since, until)
        if bucket_count(since, until, BUCKETS[bucket]) > MAX_POINTS:
            raise serializers.ValidationError(
                {"bucket": [f"Too fine for this range: at most {MAX_POINTS} buckets; choose a wider bucket."]})
        return {"since": since, "until": until, "bucket": bucket}


AVERAGE = "Average over the bucket's samples (null: none)."
INCREASE = "Increase of the counter during the bucket (a reset counts its new value; null: no sample)."


def _series_field(help_text: str, *, integer: bool = False) -> serializers.ListField:
    child = serializers.IntegerField(allow_null=True) if integer else serializers.FloatField(allow_null=True)
    return serializers.ListField(child=child, help_text=help_text)


class TelemetrySeriesSerializer(serializers.Serializer):
    """Columnar, one entry per bucket (the shape uPlot draws); null where a bucket had no sample."""

    t = serializers.ListField(child=serializers.IntegerField(), help_text="Bucket starts, epoch seconds (UTC).")
    samples = serializers.ListField(child=serializers.IntegerField(), help_text="Samples in each bucket.")
    inference_ms_p50 = _series_field(AVERAGE)
    inference_ms_p95 = _series_field(AVERAGE)
    fps = _series_field(AVERAGE)
    inference_fps = _series_field(AVERAGE)
    temperature_c = _series_field(AVERAGE)
    memory_used_bytes = _series_field(AVERAGE)
    disk_free_bytes = _series_field(AVERAGE)
    outbox_depth = _series_field(AVERAGE)
    outbox_oldest_age_seconds = _series_field(AVERAGE)
    dropped_frames = _series_field(INCREASE, integer=True)
    crashes = _series_field(INCREASE, integer=True)
    watchdog_restarts = _series_field(INCREASE, integer=True)


class DeviceTelemetrySerializer(serializers.Serializer):
    device = DeviceSerializer(help_text="The device's current health (its last heartbeat) and cameras.")
    now = serializers.DateTimeField(help_text="Server time, to judge `last_seen_at` against.")
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    bucket = serializers.ChoiceField(choices=list(BUCKETS))
    bucket_seconds = serializers.IntegerField()
    sample_count = serializers.IntegerField(help_text="Samples in the range.")
    series = TelemetrySeriesSerializer()


class DeviceTelemetryView(APIView):
    @extend_schema(operation_id="device_telemetry", parameters=[TelemetryQuerySerializer],
                   responses={200: DeviceTelemetrySerializer, **ERRORS})
    def get(self, request: Request, project_id: int, device_id: int) -> Response:
        device = access_project_device(user=request.user, project_id=project_id, device_id=device_id)
        query = TelemetryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = device_series(device=device, **query.validated_data)
        return Response(DeviceTelemetrySerializer({
            "device": device, "now": timezone.now(), "since": result.since, "until": result.until,
            "bucket": result.bucket, "bucket_seconds": result.bucket_seconds, "sample_count": result.sample_count,
            "series": result.series}).data)


class SummaryQuerySerializer(serializers.Serializer):
    hours = serializers.IntegerField(required=False, default=24, min_value=1, max_value=MAX_SUMMARY_HOURS,
                                     help_text="How many hours back (the current hour last).")


HOURLY = "Hourly average (null: no sample that hour)."


class DeviceSparklinesSerializer(serializers.Serializer):
    device = serializers.IntegerField()
    inference_ms_p95 = _series_field(HOURLY)
    fps = _series_field(HOURLY)
    inference_fps = _series_field(HOURLY)
    outbox_depth = _series_field(HOURLY)


class TelemetrySummarySerializer(serializers.Serializer):
    now = serializers.DateTimeField(help_text="Server time, to judge each device's `last_seen_at` against.")
    hours = serializers.IntegerField()
    bucket_seconds = serializers.IntegerField()
    t = serializers.ListField(child=serializers.IntegerField(), help_text="Hour starts, epoch seconds (UTC).")
    devices = DeviceSparklinesSerializer(many=True, help_text="Every device of the project, by id.")


class TelemetrySummaryView(APIView):
    @extend_schema(operation_id="devices_telemetry_summary", parameters=[SummaryQuerySerializer],
                   responses={200: TelemetrySummarySerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        now = timezone.now()
        summary = telemetry_summary(project=project, hours=query.validated_data["hours"], now=now)
        return Response(TelemetrySummarySerializer({"now": now, **summary}).data)

