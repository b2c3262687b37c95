"""The devices page: each edge box of a project with where it is, when it last called in, and its health;
admins register a device (its token is shown once) and revoke one."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.auth import DeviceTokenAuthentication
from annotations.models import Camera, Device, Role, Site
from annotations.selectors import access_device, access_project, project_devices
from annotations.services import create_device, revoke_device


class DeviceView(APIView):
    """The base of every endpoint a device calls with its token (events, media, heartbeat, model updates)."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @property
    def device(self) -> Device:
        return self.request.auth  # type: ignore[return-value]


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
    inference_fps = serializers.FloatField(allow_null=True)
    inference_ms_p50 = serializers.FloatField(allow_null=True)
    inference_ms_p95 = serializers.FloatField(allow_null=True)
    memory_used_bytes = serializers.IntegerField(allow_null=True)
    memory_total_bytes = serializers.IntegerField(allow_null=True)
    disk_total_bytes = serializers.IntegerField(allow_null=True)
    outbox_oldest_age_seconds = serializers.FloatField(allow_null=True)
    crashes = serializers.IntegerField(allow_null=True)
    watchdog_restarts = serializers.IntegerField(allow_null=True)


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


NAME = r"^[\w .,:()#/@&'+-]{1,120}$"  # readable names; no control characters or angle brackets


class DeviceRegisterSerializer(serializers.Serializer):
    site = serializers.RegexField(NAME, max_length=120, help_text="Site name; created if the project has none of it.")
    name = serializers.RegexField(NAME, max_length=120, help_text="Device name, unique in the project.")
    cameras = serializers.ListField(child=serializers.RegexField(NAME, max_length=120), min_length=1, max_length=32,
                                    help_text="Names of the cameras the device serves at the site.")

    def validate_cameras(self, names: list[str]) -> list[str]:
        names = [n.strip() for n in names]
        if len(set(names)) != len(names):
            raise serializers.ValidationError("Each camera name once.")
        return names


class IssuedDeviceSerializer(serializers.Serializer):
    device = DeviceSerializer()
    token = serializers.CharField(help_text="The device's bearer token: shown only in this answer, stored hashed.")


_ERROR = OpenApiResponse(description='`{"error": {"code", "message", "details"}}`')


class ProjectDevicesView(APIView):
    """`GET /api/v1/projects/{id}/devices/`: project admins only (403 for other roles, 404 for outsiders)."""

    @extend_schema(operation_id="project_devices", responses={200: DeviceSerializer(many=True), 403: _ERROR,
                                                              404: _ERROR})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(DeviceSerializer(project_devices(project=project), many=True).data)

    @extend_schema(operation_id="project_device_register", request=DeviceRegisterSerializer,
                   responses={201: IssuedDeviceSerializer, 400: _ERROR, 403: _ERROR, 404: _ERROR})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = DeviceRegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        issued = create_device(project=project, site_name=data["site"].strip(), camera_names=data["cameras"],
                               device_name=data["name"].strip(), actor=request.user)
        device = project_devices(project=project).get(pk=issued.device.pk)
        response = Response({"device": DeviceSerializer(device).data, "token": issued.token}, status=201)
        response["Cache-Control"] = "no-store"  # the token must not linger in a cache
        return response


class DeviceRevokeView(APIView):
    """`POST /api/v1/devices/{id}/revoke`: the device's token stops working (401); again is a no-op. Admins."""

    @extend_schema(operation_id="device_revoke", request=None,
                   responses={200: DeviceSerializer, 403: _ERROR, 404: _ERROR})
    def post(self, request: Request, device_id: int) -> Response:
        device = revoke_device(device=access_device(user=request.user, device_id=device_id), actor=request.user)
        return Response(DeviceSerializer(project_devices(project=device.project).get(pk=device.pk)).data)
