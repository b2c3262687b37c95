"""A device's heartbeat: its health and its cameras' status."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from activelearning.health.services import record_telemetry
from annotations.errors import Unprocessable
from annotations.models import Camera, Device

_HEALTH_FIELDS = ("software_version", "model_sha256", "uptime_seconds", "disk_free_bytes", "temperature_c",
                  "fps", "dropped_frames", "outbox_depth", "runtime", "inference_ms_p50", "inference_ms_p95", "crashes",
                  "inference_fps", "memory_used_bytes", "memory_total_bytes", "disk_total_bytes",
                  "outbox_oldest_age_seconds", "watchdog_restarts")


@transaction.atomic
def record_heartbeat(*, device: Device, health: dict[str, Any], cameras: list[dict[str, Any]]) -> None:
    """Store a device's health and each camera's status; refuse the whole heartbeat if a camera is not its own."""
    own = {camera.name: camera for camera in Camera.objects.select_for_update().filter(device=device)}
    unknown = sorted({c["name"] for c in cameras} - own.keys())
    if unknown:
        raise Unprocessable("These cameras are not this device's.", code="unknown_camera",
                            details={"cameras": unknown})
    now = timezone.now()
    updates = {name: health[name] for name in _HEALTH_FIELDS if name in health}
    Device.objects.filter(pk=device.pk).update(last_seen_at=now, **updates)
    # The answer to this heartbeat (which model to run) reads the runtime just reported.
    for name, value in updates.items():
        setattr(device, name, value)
    record_telemetry(device=device, health=health, now=now)
    for report in cameras:  # a camera named twice keeps its last report
        camera = own[report["name"]]
        camera.status = {k: v for k, v in report.items() if k != "name"}
        camera.last_seen_at = now
    reported = [own[name] for name in {c["name"] for c in cameras}]
    # One UPDATE for all of them (not one per camera): heartbeats are the fleet's most frequent request.
    Camera.objects.bulk_update(reported, ["status", "last_seen_at"])
