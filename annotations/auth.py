"""Device authentication: `Authorization: Bearer <device token>`, looked up by its sha256."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from annotations import rows
from annotations.errors import Unauthenticated
from annotations.models import Device, Project, Site


class DevicePrincipal:
    """What `request.user` is for a device request: the device, never a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, device: Device) -> None:
        self.device = device

    def __str__(self) -> str:
        return f"device {self.device}"


class DeviceTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[DevicePrincipal, Device] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            raise Unauthenticated("A device token is required: `Authorization: Bearer <token>`.")
        if len(header) != 2:
            raise Unauthenticated("Malformed Authorization header.", code="authentication_failed")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise Unauthenticated("Malformed token.", code="authentication_failed") from exc
        device = _device_by_token_hash(Device.hash_token(token))
        if device is None:
            raise Unauthenticated("Unknown device token.", code="authentication_failed")
        if device.revoked_at is not None:
            raise Unauthenticated("This device token has been revoked.", code="token_revoked")
        return DevicePrincipal(device), device

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="loupe-device"'


def _device_by_token_hash(token_hash: str) -> Device | None:
    """The device with its project and site, in one hand-written statement: every device request (each heartbeat
    and poll of the fleet) starts here, and the ORM's compile of this join cost more CPU than the lookup."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.columns(Device, 'd')}, {rows.columns(Project, 'p')}, {rows.columns(Site, 's')} "  # noqa: S608
            f"FROM {Device._meta.db_table} d JOIN {Project._meta.db_table} p ON p.id = d.project_id "
            f"JOIN {Site._meta.db_table} s ON s.id = d.site_id WHERE d.token_hash = %s", [token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    device_end, project_end = rows.width(Device), rows.width(Device) + rows.width(Project)
    device = rows.from_row(Device, row[:device_end])
    device.project = rows.from_row(Project, row[device_end:project_end])
    device.site = rows.from_row(Site, row[project_end:])
    return device


def touch_last_seen(device: Device) -> None:
    """Record that the device spoke, at most once a minute to keep the hot path write-free."""
    now = timezone.now()
    if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > 60:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        device.last_seen_at = now


class DeviceBearerIfPresent(BaseAuthentication):
    """For views devices and people share (the model file): a Bearer header is a device token, checked as
    strictly as anywhere; without one the people's authentication classes that follow decide."""

    def authenticate(self, request: Request) -> tuple[DevicePrincipal, Device] | None:
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        return DeviceTokenAuthentication().authenticate(request)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="loupe-device"'


class DeviceBearerIfPresentScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "annotations.auth.DeviceBearerIfPresent"
    name = "deviceTokenOrPerson"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer",
                "description": "A device token; people use their session or `Token` instead."}


class DeviceTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "annotations.auth.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "Per-device token (create_device)."}
