"""The heartbeat: what the device reports about itself, and the model the server wants it to run."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import edge
from edge.capture import MEDIA_REFUSED
from edge.client import TransientError, raise_for_common
from edge.models import ModelStore
from edge.outbox import Outbox


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
    extra: dict[str, Any] = field(default_factory=dict)  # temperature_c, fps, … when the device has them

    def build(self, *, outbox: Outbox, models: ModelStore) -> dict[str, Any]:
        """The heartbeat body (API.md): version, model, uptime, disk free, outbox depth, cameras."""
        body: dict[str, Any] = {
            "software_version": self.software_version,
            "model_sha256": models.active_sha256 or "",
            "uptime_seconds": int(time.monotonic() - self.started_at),
            "disk_free_bytes": shutil.disk_usage(self.data_dir).free,
            "outbox_depth": outbox.depth(),
            "dropped_frames": outbox.counter(MEDIA_REFUSED),
            "cameras": self.cameras,
        }
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
