"""Small builders for test data: a project with a site, a camera and its device, media made with OpenCV."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from annotations.models import Asset, AssetHolding, Device, Membership, Prediction, Project, Site
from annotations.services import create_device
from reviewer.models import ReviewItem


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


def make_asset(sha_seed: str = "a", width: int = 320, height: int = 240, kind: str = "frame",
               frame_count: int | None = None, held_by: Project | None = None) -> Asset:
    """An asset row (no file); `held_by` gives that project its holding, as an upload by its device would."""
    sha = hashlib.sha256(sha_seed.encode()).hexdigest()
    asset = Asset.objects.create(sha256=sha, kind=kind, content_type="image/jpeg" if kind == "frame" else "video/mp4",
                                 file=f"assets/{sha}.jpg", size_bytes=1000, width=width, height=height,
                                 fps=10.0 if kind == "clip" else None, frame_count=frame_count)
    if held_by is not None:
        AssetHolding.objects.create(project=held_by, asset=asset)
    return asset


def make_items(project: Project, n: int, *, site: Site | None = None, overlap: int = 1,
               reason: str = "low_confidence") -> list[ReviewItem]:
    """`n` pending items with a pre-label each, priorities spread so the order is known (item 0 highest)."""
    site = site or Site.objects.get_or_create(project=project, name="Main St")[0]
    items = []
    for i in range(n):
        asset = make_asset(f"{project.slug}-{site.name}-{i}-{ReviewItem.objects.count()}", held_by=project)
        prediction = Prediction.objects.create(
            project=project, asset=asset, event_type="prediction", payload_hash="x", event_id="",
            captured_at=timezone.now(), received_at=timezone.now(), detection_count=1,
            detections=[{"label": "person", "score": 0.4, "box": [10.0, 20.0, 30.0, 60.0]}],
        )
        items.append(ReviewItem(project=project, asset=asset, prediction=prediction, site=site, reason=reason,
                                priority=round(1 - i / (n + 1), 6), required_overlap=overlap,
                                score_parts={"least_confidence": 0.6}))
    return ReviewItem.objects.bulk_create(items)


def add_member(project: Project, username: str, role: str, sites: list[Site] | None = None) -> User:
    user = User.objects.filter(username=username).first() or User.objects.create_user(username, password="pw-123456")
    membership = Membership.objects.create(project=project, user=user, role=role)
    if sites:
        membership.sites.set(sites)
    return user


def as_user(name: str | None) -> APIClient:
    """An API client authenticated as `name` (None: anonymous)."""
    client = APIClient()
    if name is not None:
        client.force_authenticate(User.objects.get(username=name))
    return client
