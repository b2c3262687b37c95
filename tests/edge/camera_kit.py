"""What the camera-loop tests share: a frame source that stops and resumes on command, detectors that hang or
die on a marked frame (module-level, so a `spawn` child can import them), a real ONNX model on disk, and a
deadline-bound wait (no sleeps for timing)."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge.camera import CameraUnavailable
from loupe_vision.detector import Detector
from tests.onnx_models import detector_bytes, fixed_detector_bytes

HANG = (1, 2, 3)  # a frame whose top-left pixel is this makes HangsOnMarker's detect never return
DIE = (4, 5, 6)  # … makes it exit the process at once (a native crash, as the parent sees it)


def wait_until(condition: Callable[[], bool], *, within: float, what: str) -> float:
    """Poll `condition` until true; return the seconds it took. Fails the test after `within` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within:g} s: {what}")
        time.sleep(0.01)
    return time.monotonic() - started


def frame(marker: tuple[int, int, int] | None = None, *, seed: int = 0) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    pixels[0, 0] = marker if marker is not None else (200, 200, 200)
    return pixels


class Tap:
    """A frame source that yields frames while `flowing` is set and nothing otherwise: a camera that stops
    and resumes. `opens` counts how often the camera (re)opened it; `refuse` makes opening fail."""

    def __init__(self) -> None:
        self.flowing = threading.Event()
        self.flowing.set()
        self.opens = 0
        self.refuse = threading.Event()
        self.read_count = 0

    def open(self) -> TapSource:
        if self.refuse.is_set():
            raise CameraUnavailable("the tap is closed")
        self.opens += 1
        return TapSource(self)


class TapSource:
    def __init__(self, tap: Tap) -> None:
        self.tap = tap

    def read(self) -> Any | None:
        if not self.tap.flowing.wait(0.02):  # a stalled camera: the grab waits a little, then gives nothing
            return None
        self.tap.read_count += 1
        time.sleep(0.005)  # a camera's own pace (~200 fps), so the reader does not spin a core
        return frame(seed=self.tap.read_count % 7)

    def close(self) -> None:
        pass


class Feeder:
    """A frame source that yields exactly the frames the test feeds it, in order, and nothing in between."""

    def __init__(self) -> None:
        self.frames: queue.Queue[np.ndarray] = queue.Queue()

    def feed(self, marker: tuple[int, int, int] | None = None, *, seed: int = 0) -> None:
        self.frames.put(frame(marker, seed=seed))

    def open(self) -> Feeder:
        return self

    def read(self) -> Any | None:
        try:
            return self.frames.get(timeout=0.02)
        except queue.Empty:
            return None

    def close(self) -> None:
        pass


class HangsOnMarker:
    """The real ONNX detector, except on a marked frame: HANG sleeps for ever, DIE exits the process."""

    def __init__(self, model_path: str) -> None:
        self.detector = Detector(model_path)

    def detect(self, image: Any) -> list[dict[str, Any]]:
        marker = tuple(int(v) for v in image[0, 0])
        if marker == HANG:
            threading.Event().wait()  # never set: a wedged inference
        if marker == DIE:
            os._exit(7)
        return self.detector.detect(image)


def hangs_on_marker(model_path: str) -> HangsOnMarker:
    return HangsOnMarker(model_path)


def write_model(folder: Path, *, unsure: bool = True) -> Path:
    """A real detector file. `unsure`: it always reports one person at score 0.3 (under a review threshold of
    0.5, so every frame is captured as low_confidence); else the random 1×1-conv detector."""
    data = fixed_detector_bytes([(32, 32, 20, 40, 0.3)]) if unsure else detector_bytes()
    path = folder / "model.onnx"
    path.write_bytes(data)
    return path
