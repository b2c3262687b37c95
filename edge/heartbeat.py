"""The heartbeat: what the device reports about itself, and the model the server wants it to run."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import edge
from edge import system
from edge.capture import MEDIA_REFUSED
from edge.client import TransientError, raise_for_common
from edge.models import ModelStore
from edge.outbox import Outbox

# Outbox counters (totals since install, so a restart of loupe-edge does not reset them) the heartbeat reports;
# edge/pipeline.py and edge/watchdog.py bump them.
FRAMES_DROPPED, WATCHDOG_RESTARTS, CRASHES = "frames_dropped", "watchdog_restarts", "crashes"


@dataclass
class HeartbeatAnswer:
    desired_model: dict[str, Any] | None
    server_time: str | None


@dataclass
class Health:
    """What the device knows about itself; `build` adds what the edge package measures."""

    data_dir: Path
    started_at: float = field(default_factory=time.monotonic)
    cameras: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "status", "fps"?, ...}]
    software_version: str = f"loupe-edge/{edge.__version__}"
    # The camera loop's live figures (Pipeline.health): fps, inference_fps, inference_ms_p50/p95, runtime and
    # its cameras' entries, which join the named-only `cameras` above.
    telemetry: Callable[[], dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # anything else the device knows (overrides the rest)
    thermal: Path = system.THERMAL
    meminfo: Path = system.MEMINFO

    def build(self, *, outbox: Outbox, models: ModelStore) -> dict[str, Any]:
        """The heartbeat body (API.md): version, model, uptime, disk, memory, temperature (when readable), the
        outbox's depth and oldest undelivered event's age, the counters since install, the cameras."""
        disk = shutil.disk_usage(self.data_dir)
        body: dict[str, Any] = {
            "software_version": self.software_version,
            "model_sha256": models.active_sha256 or "",
            "uptime_seconds": int(time.monotonic() - self.started_at),
            "disk_free_bytes": disk.free,
            "disk_total_bytes": disk.total,
            **system.memory(self.meminfo),
            "outbox_depth": outbox.depth(),
            "watchdog_restarts": outbox.counter(WATCHDOG_RESTARTS),
            "crashes": outbox.counter(CRASHES),
        }
        oldest = outbox.oldest_pending_age()
        if oldest is not None:
            body["outbox_oldest_age_seconds"] = round(oldest, 1)
        temperature = system.temperature_c(self.thermal)
        if temperature is not None:
            body["temperature_c"] = temperature
        cameras = list(self.cameras)
        if self.telemetry is not None:
            live = dict(self.telemetry())  # first: it persists the frames it dropped into the counter below
            cameras += live.pop("cameras", [])
            body.update(live)
        body["dropped_frames"] = outbox.counter(MEDIA_REFUSED) + outbox.counter(FRAMES_DROPPED)
        body["cameras"] = cameras
        body.update(self.extra)
        return body


def send_heartbeat(http: httpx.Client, body: dict[str, Any]) -> HeartbeatAnswer:
    """POST the heartbeat; the answer names the model the device should run."""
    try:
        response = http.post("/api/v1/heartbeat", json=body)
    except httpx.TransportError as exc:
        raise TransientError(f"heartbeat: {type(exc).__name__}") from exc
    raise_for_common(response, "heartbeat")
    if response.status_code != 200:
        raise TransientError(f"heartbeat: HTTP {response.status_code} {response.text[:200]}")
    answer = response.json()
    return HeartbeatAnswer(desired_model=answer.get("model"), server_time=answer.get("server_time"))
