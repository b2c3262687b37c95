"""The capture pipeline: cameras → the watched detector → the frames worth a human look → the outbox.

One thread takes each camera's newest frame in turn, runs the active model on it (edge/watchdog.py), and asks
`ReviewPolicy` whether a person should see it: a detection scoring under `below` (the model was unsure:
`low_confidence`), or else a random `audit_rate` share of frames (`audit_sample`, so confident mistakes are
found too). Those frames are captured (edge/capture.py: JPEG in the spool, prediction event in the outbox) in
one step; the rest are forgotten. Nothing is captured before the detector has answered, so a hung or crashed
inference loses only the frame it was working on, never a queued event.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.camera import Camera, Frame
from edge.capture import capture
from edge.heartbeat import FRAMES_DROPPED
from edge.models import ModelStore
from edge.outbox import Outbox
from edge.spool import Spool, SpoolFull
from edge.watchdog import DetectorUnavailable, InferenceFailed, WatchedDetector

log = logging.getLogger("loupe-edge.pipeline")

EVENT_ID_MAX = 128  # loupe_wire's EventId


@dataclass
class ReviewPolicy:
    below: float = 0.5  # a detection scoring under this makes the frame `low_confidence`
    audit_rate: float = 0.01  # the share of the other frames captured anyway (`audit_sample`)
    random: Callable[[], float] = field(default=random.random)

    def reason(self, detections: Sequence[dict[str, Any]]) -> str | None:
        """Why a person should look at this frame, or None (it is not captured)."""
        if any(d["score"] < self.below for d in detections):
            return "low_confidence"
        if self.audit_rate > 0 and self.random() < self.audit_rate:
            return "audit_sample"
        return None


def event_id(run_id: str, camera: str, index: int) -> str:
    """Unique per device: this run of the loop, the camera, its frame number (a long camera name is hashed)."""
    candidate = f"cam-{run_id}-{index:09d}-{camera}"
    if len(candidate) <= EVENT_ID_MAX:
        return candidate
    return f"cam-{run_id}-{index:09d}-{hashlib.sha256(camera.encode()).hexdigest()[:16]}"


def encode_jpeg(pixels: Any, quality: int = 90) -> bytes:
    import cv2  # the `camera` extra

    ok, buffer = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the frame as JPEG")
    return bytes(buffer)


class Pipeline:
    """Cameras, the watched detector and the capture step, run by one thread (`start`/`stop`) or by `step`."""

    def __init__(self, cameras: Sequence[Camera], detector: WatchedDetector, *, outbox: Outbox, spool: Spool,
                 models: ModelStore, policy: ReviewPolicy | None = None, run_id: str | None = None) -> None:
        self.cameras = list(cameras)
        self.detector, self.outbox, self.spool, self.models = detector, outbox, spool, models
        self.policy = policy or ReviewPolicy()
        self.run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.captured = 0
        self.failures = 0  # frames whose inference failed (hung, crashed, or the model raised)
        self._model_sha256: str | None = None
        self._dropped_persisted = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- running -----------------------------------------------------------------------------------

    def start(self) -> Pipeline:
        for camera in self.cameras:
            camera.start()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.detector.close()  # first: it abandons a frame in flight, so the thread is not held by a slow model
        for camera in self.cameras:
            camera.stop()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step(wait=0.05)
            except DetectorUnavailable as exc:  # a model that cannot load: say so, try again later
                log.error("%s", exc)
                self._stop.wait(30)

    def _model(self) -> Path | None:
        """The active model's file (not the `active.onnx` link, which an update re-points under us)."""
        sha256 = self.models.active_sha256
        if sha256 is None:
            return None
        path = self.models.root / f"{sha256}.onnx"
        if sha256 != self._model_sha256:
            if self._model_sha256 is not None:
                log.info("model %s is now active: restarting the detector on it", sha256)
            self.detector.switch(path)
            self._model_sha256 = sha256
        return path

    def step(self, wait: float = 0.05) -> int:
        """Take each camera's newest frame and infer it; return how many frames were inferred."""
        model = self._model()
        inferred = 0
        for camera in self.cameras:
            frame = camera.take(timeout=wait / max(1, len(self.cameras)))
            if frame is None:
                continue
            if model is None:  # no model yet (before the first download): the camera is watched, not inferred
                continue
            try:
                detections = self.detector.infer(frame.pixels)
            except InferenceFailed as exc:
                self.failures += 1
                camera.drop(frame)  # this frame had no answer; no event came from it, the outbox is untouched
                log.warning("camera %s frame %d not inferred: %s", camera.name, frame.index, exc)
                continue
            inferred += 1
            camera.inference_fps.tick()
            self._consider(frame, detections)
        return inferred

    def _consider(self, frame: Frame, detections: list[dict[str, Any]]) -> None:
        reason = self.policy.reason(detections)
        if reason is None:
            return
        captured_at = datetime.fromtimestamp(frame.captured_at, UTC)
        event = {
            "id": event_id(self.run_id, frame.camera, frame.index), "type": "prediction",
            "captured_at": captured_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "camera": frame.camera, "frame_index": 0,  # a still frame: the asset is this one JPEG
            "model": {"name": "", "version": "", "sha256": self._model_sha256 or ""},
            "detections": detections, "reason": reason,
        }
        try:
            self.captured += capture(outbox=self.outbox, spool=self.spool, event=event,
                                     media=encode_jpeg(frame.pixels))
        except SpoolFull as exc:  # counted by capture() as media refused; the loop goes on
            log.warning("camera %s frame %d not captured: %s", frame.camera, frame.index, exc)

    # --- what the heartbeat says --------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The live figures for the heartbeat (Health.telemetry): fps, inference fps and latency, cameras.

        Persists the frames dropped since the last call into the outbox counter, so the heartbeat's
        `dropped_frames` stays a total since install across restarts."""
        cameras = [camera.snapshot() for camera in self.cameras]
        dropped = sum(camera.dropped_frames for camera in self.cameras)
        if dropped > self._dropped_persisted:
            self.outbox.bump(FRAMES_DROPPED, dropped - self._dropped_persisted)
            self._dropped_persisted = dropped
        return {"fps": round(sum(c["fps"] for c in cameras), 2), **self.detector.health(), "cameras": cameras}
