"""Request/response shapes of the device API that go through DRF (low-volume endpoints)."""

from __future__ import annotations

from rest_framework import serializers

from activelearning.registry.serializers import DesiredModelSerializer
from annotations.int64 import INT64_MAX


class CameraStatusSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    status = serializers.ChoiceField(choices=["ok", "degraded", "offline", "error"])
    fps = serializers.FloatField(required=False, min_value=0, max_value=1000)
    dropped_frames = serializers.IntegerField(required=False, min_value=0)
    message = serializers.CharField(required=False, max_length=500, allow_blank=True)
    inference_fps = serializers.FloatField(required=False, min_value=0, max_value=1000,
                                           help_text="Frames per second the detector completes on this camera")
    last_frame_age_seconds = serializers.FloatField(required=False, min_value=0, max_value=INT64_MAX,
                                                    help_text="Seconds since this camera last yielded a frame")


class RuntimeSerializer(serializers.Serializer):
    onnxruntime = serializers.RegexField(r"^[0-9A-Za-z.+_-]{1,32}$", required=False,
                                         help_text="The onnxruntime version the device runs, e.g. 1.17.1")
    opset = serializers.IntegerField(required=False, min_value=1, max_value=1000,
                                     help_text="The highest ONNX opset it supports; newer models are not offered")


class HeartbeatSerializer(serializers.Serializer):
    software_version = serializers.CharField(required=False, max_length=64, allow_blank=True)
    model_sha256 = serializers.RegexField(r"^([0-9a-f]{64})?$", required=False, allow_blank=True)
    uptime_seconds = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)  # bigint columns
    disk_free_bytes = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)
    temperature_c = serializers.FloatField(required=False, min_value=-100, max_value=200)
    fps = serializers.FloatField(required=False, min_value=0, max_value=1000)
    dropped_frames = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)
    outbox_depth = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)
    runtime = RuntimeSerializer(required=False)
    inference_ms_p50 = serializers.FloatField(required=False, min_value=0, max_value=3_600_000)
    inference_ms_p95 = serializers.FloatField(required=False, min_value=0, max_value=3_600_000)
    crashes = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX,
                                       help_text="Crashes and watchdog restarts since install (a counter)")
    inference_fps = serializers.FloatField(required=False, min_value=0, max_value=1000,
                                           help_text="Frames per second inference completes (all cameras)")
    memory_used_bytes = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)
    memory_total_bytes = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)
    disk_total_bytes = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)
    outbox_oldest_age_seconds = serializers.FloatField(required=False, min_value=0, max_value=INT64_MAX,
                                                       help_text="Age of the oldest event not yet delivered")
    watchdog_restarts = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX,
                                                 help_text="Hung inferences the watchdog killed since install")
    cameras = CameraStatusSerializer(many=True, required=False, max_length=64)


class HeartbeatResponseSerializer(serializers.Serializer):
    model = DesiredModelSerializer(allow_null=True)
    server_time = serializers.DateTimeField()


class AssetSerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    kind = serializers.CharField()
    content_type = serializers.CharField()
    size_bytes = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    fps = serializers.FloatField(allow_null=True)
    frame_count = serializers.IntegerField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)


class EventResultSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "rejected"])
    error = serializers.DictField(required=False)
    review_item = serializers.IntegerField(required=False)


class EventBatchResponseSerializer(serializers.Serializer):
    results = EventResultSerializer(many=True)


