"""Small builders for test data: a project with a site, a camera and its device, media made with OpenCV."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from django.test import Client

from annotations.models import Device, Project
from annotations.services import create_device


@dataclass
class DeviceKit:
    project: Project
    device: Device
    token: str
    client: Client

    def headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def put_media(self, body: bytes, content_type: str = "image/jpeg", sha256: str | None = None) -> Any:
        sha = sha256 if sha256 is not None else hashlib.sha256(body).hexdigest()
        return self.client.put(f"/api/v1/media/{sha}", data=body, content_type=content_type, **self.headers())

    def post_events(self, events: list[dict[str, Any]]) -> Any:
        return self.client.post("/api/v1/events", data={"events": events}, content_type="application/json",
                                **self.headers())

    def post_raw(self, body: bytes) -> Any:
        return self.client.post("/api/v1/events", data=body, content_type="application/json", **self.headers())


def make_project(slug: str = "store-counts", classes: tuple[str, ...] = ("person",)) -> Project:
    return Project.objects.create(slug=slug, name=slug.replace("-", " ").title(), label_classes=list(classes))


def make_device_kit(project: Project | None = None, site: str = "Main St", camera: str = "door-1") -> DeviceKit:
    project = project or make_project()
    issued = create_device(project=project, site_name=site, camera_names=[camera])
    return DeviceKit(project=project, device=issued.device, token=issued.token, client=Client())


def jpeg_bytes(width: int = 320, height: int = 240, seed: int = 0, brightness: int = 128) -> bytes:
    """A small, unique JPEG: a filled background with a few drawn shapes."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), brightness, dtype=np.uint8)
    for _ in range(4):
        x, y = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x, y), (x + 20, y + 30), color, -1)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return encoded.tobytes()


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    ok, encoded = cv2.imencode(".png", np.zeros((height, width, 3), dtype=np.uint8))
    assert ok
    return encoded.tobytes()


def mp4_bytes(frames: int = 12, fps: float = 10.0, width: int = 160, height: int = 120) -> bytes:
    """A short MP4 clip (mp4v) of a moving square, written by OpenCV."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        assert writer.isOpened()
        for i in range(frames):
            image = np.full((height, width, 3), 40, dtype=np.uint8)
            cv2.rectangle(image, (5 + i * 3, 20), (35 + i * 3, 70), (200, 180, 60), -1)
            writer.write(image)
        writer.release()
        return path.read_bytes()


def prediction_event(event_id: str, asset: str, *, camera: str = "door-1", score: float = 0.41,
                     boxes: int = 1, **extra: Any) -> dict[str, Any]:
    detections = [
        {"label": "person", "score": score, "box": [10.0 + 30 * i, 20.0, 25.0, 60.0], "track_id": i}
        for i in range(boxes)
    ]
    event: dict[str, Any] = {
        "id": event_id, "type": "prediction", "captured_at": "2026-11-21T08:15:30.120Z", "camera": camera,
        "asset": asset, "frame_index": 0, "model": {"name": "people-det", "version": "3", "sha256": "0" * 64},
        "detections": detections, "reason": "low_confidence",
    }
    event.update(extra)
    return event
