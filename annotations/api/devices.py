"""The devices page: each edge box of a project with where it is, when it last called in, and its health."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.models import Camera, Device, Role, Site
from annotations.selectors import access_project, project_devices


class DeviceSiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "kind"]


class DeviceCameraSerializer(serializers.ModelSerializer):
    class Meta:
        model = Camera
        fields = ["id", "name", "status", "last_seen_at"]


class DeviceHealthSerializer(serializers.Serializer):
    """The last heartbeat's figures (null until the device has sent one)."""

    uptime_seconds = serializers.IntegerField(allow_null=True)
    disk_free_bytes = serializers.IntegerField(allow_null=True)
    temperature_c = serializers.FloatField(allow_null=True)
    fps = serializers.FloatField(allow_null=True)
    dropped_frames = serializers.IntegerField(allow_null=True)
    outbox_depth = serializers.IntegerField(allow_null=True)


class DeviceSerializer(serializers.ModelSerializer):
    site = DeviceSiteSerializer()
    cameras = DeviceCameraSerializer(many=True)
    health = DeviceHealthSerializer(source="*")
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "name", "token_prefix", "site", "cameras", "created_at", "last_seen_at",
                  "software_version", "model_sha256", "health", "revoked", "revoked_at"]

    def get_revoked(self, device: Device) -> bool:
        return device.revoked_at is not None


_ERROR = OpenApiResponse(description='`{"error": {"code", "message", "details"}}`')


class ProjectDevicesView(APIView):
    """`GET /api/v1/projects/{id}/devices/`: project admins only (403 for other roles, 404 for outsiders)."""

    @extend_schema(operation_id="project_devices", responses={200: DeviceSerializer(many=True), 403: _ERROR,
                                                              404: _ERROR})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(DeviceSerializer(project_devices(project=project), many=True).data)
