"""Keep a heartbeat's figures as a telemetry sample."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from activelearning.health.models import DeviceTelemetry
from annotations.models import Device

# The heartbeat fields a sample keeps (a subset of the device's health; see HeartbeatSerializer).
SAMPLED = ("inference_ms_p50", "inference_ms_p95", "crashes", "fps", "inference_fps", "dropped_frames",
           "temperature_c", "memory_used_bytes", "disk_free_bytes", "outbox_depth", "outbox_oldest_age_seconds",
           "watchdog_restarts")


def record_telemetry(*, device: Device, health: dict[str, Any], now: datetime) -> None:
    """Keep a heartbeat's figures as a sample (only when it carries any: a bare keep-alive adds no row)."""
    figures = {name: health.get(name) for name in SAMPLED}
    if all(value is None for value in figures.values()):
        return
    DeviceTelemetry.objects.create(device=device, received_at=now,
                                   model_sha256=health.get("model_sha256") or device.model_sha256, **figures)


def telemetry_cutoff(now: datetime) -> datetime:
    """Samples received before this are past LOUPE_TELEMETRY_DAYS and go at the next daily prune."""
    return now - timedelta(days=settings.LOUPE_TELEMETRY_DAYS)


def prune_telemetry(*, project_id: int, now: datetime) -> int:
    """Delete the project's devices' samples past the bound; how many. One DELETE by the (device, received_at)
    index; the daily retention job calls it for every project (activelearning/retention)."""
    cutoff = telemetry_cutoff(now)
    return DeviceTelemetry.objects.filter(device__project_id=project_id, received_at__lt=cutoff).delete()[1].get(
        DeviceTelemetry._meta.label, 0)
