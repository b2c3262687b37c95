"""Cameras: read frames from a source, notice one that stops, reopen it with backoff, report how it is doing.

A `Camera` owns one reader thread. It opens its source through a factory (`OpenCVSource` for a file, an RTSP
URL or a device index; any object with the same `read`/`close` in tests), reads as fast as the source gives
frames, and keeps only the newest for the pipeline (`take`): a frame replaced before it was taken is a
*dropped frame* (inference is slower than the camera). When no frame has come for `offline_after` seconds the
camera is *offline*: the reader closes the source and reopens it on a backoff schedule until frames come
again, then it is *ok* once more. A file source therefore loops: at its end it goes offline, is reopened
and plays again.

The status a heartbeat reports (`snapshot`) is worked out from the age of the last frame when it is asked for,
so a source whose `read` blocks for ever (an RTSP stream that stalls inside OpenCV) is still reported offline
on time even though the reader thread is stuck in it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from edge.backoff import Backoff
from edge.rates import RateMeter

log = logging.getLogger("loupe-edge.camera")

OK, DEGRADED, OFFLINE = "ok", "degraded", "offline"  # the heartbeat's camera statuses (also "error")
DEFAULT_OFFLINE_AFTER = 5.0  # seconds without a frame before a camera is offline and reopened
NAME_MAX = 120  # the server's camera name limit


class CameraUnavailable(RuntimeError):
    """The source cannot be opened now (no device, unreachable stream, missing file)."""


class FrameSource(Protocol):
    """One opened source. `read` returns a frame (BGR pixels), or None when none came (a failed grab, the
    end of a file); it may block for a while but should not spin."""

    def read(self) -> Any | None: ...

    def close(self) -> None: ...


SourceFactory = Callable[[], FrameSource]  # opens the source; raises CameraUnavailable (or OSError)


def parse_source(text: str) -> str | int:
    """`0` → device index 0 (/dev/video0); anything else is a path or a URL, as cv2.VideoCapture takes them."""
    return int(text) if text.isdigit() else text


class OpenCVSource:
    """A source read with cv2.VideoCapture (the `camera` extra brings OpenCV)."""

    def __init__(self, source: str | int) -> None:
        import cv2  # lazy: a device without cameras installs no OpenCV

        self.source = source
        self._capture = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraUnavailable(f"OpenCV cannot open {source!r}")

    def read(self) -> Any | None:
        ok, frame = self._capture.read()
        return frame if ok else None

    def close(self) -> None:
        self._capture.release()


def opencv_factory(source: str | int) -> SourceFactory:
    return lambda: OpenCVSource(source)


@dataclass(frozen=True)
class Frame:
    camera: str
    index: int  # frames this camera has read since the loop started
    pixels: Any  # BGR uint8 [H, W, 3]
    captured_at: float  # wall clock (time.time), for the event's captured_at


class Camera:
    """One camera's reader thread, its newest frame, and its figures (fps, dropped frames, last frame age)."""

    def __init__(self, name: str, open_source: SourceFactory, *, offline_after: float = DEFAULT_OFFLINE_AFTER,
                 backoff: Backoff | None = None, idle_wait: float = 0.01,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.open_source, self.offline_after = name, open_source, offline_after
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.idle_wait = idle_wait  # after a read that gave nothing, so a dead source does not spin a core
        self.clock = clock
        self.fps = RateMeter(clock=clock)
        self.inference_fps = RateMeter(clock=clock)  # ticked by the pipeline as frames are inferred
        self.frames_read = 0
        self.dropped_frames = 0
        self.opens = 0  # successful opens (the first, then every reopen)
        self.history: list[str] = []  # status transitions as the reader saw them: ok, offline, ok, …
        self.message = ""
        self._started_at = clock()
        self._last_frame_at: float | None = None
        self._newest: Frame | None = None
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the reader thread ---------------------------------------------------------------------------

    def start(self) -> Camera:
        self._thread = threading.Thread(target=self._read_forever, name=f"camera-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _read_forever(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                source = self.open_source()
            except (CameraUnavailable, OSError) as exc:
                failures += 1
                self.message = f"cannot open: {exc}"[:500]
                self._stop.wait(self.backoff.delay(failures))
                continue
            self.opens += 1
            opened_at = self.clock()
            try:
                if self._read_until_silent(source, opened_at):
                    failures = 0  # it gave frames: the next reopen starts the schedule over
            finally:
                source.close()
            if not self._stop.is_set():
                failures += 1
                self._stop.wait(self.backoff.delay(failures))

    def _read_until_silent(self, source: FrameSource, opened_at: float) -> bool:
        """Read until `offline_after` seconds pass without a frame (or the camera stops); True if any came."""
        got_any = False
        while not self._stop.is_set():
            pixels = source.read()
            now = self.clock()
            if pixels is not None:
                got_any = True
                self._deliver(pixels, now)
                continue
            silent_since = self._last_frame_at if got_any and self._last_frame_at is not None else opened_at
            if now - silent_since >= self.offline_after:
                self._went_offline(f"no frame for {now - silent_since:.1f} s; reopening")
                return got_any
            self._stop.wait(self.idle_wait)
        return got_any

    def _deliver(self, pixels: Any, now: float) -> None:
        with self._ready:
            if self._newest is not None:
                self.dropped_frames += 1  # inference did not keep up: only the newest frame is worth a look
            self._newest = Frame(self.name, self.frames_read, pixels, time.time())
            self.frames_read += 1
            self._last_frame_at = now
            self._ready.notify_all()
        self.fps.tick()
        if not self.history or self.history[-1] != OK:
            self.message = ""
            self.history.append(OK)
            log.info("camera %s: frames are coming (open #%d)", self.name, self.opens)

    def _went_offline(self, message: str) -> None:
        self.message = message
        if not self.history or self.history[-1] != OFFLINE:
            self.history.append(OFFLINE)
            log.warning("camera %s offline: %s", self.name, message)

    # --- the pipeline's side ---------------------------------------------------------------------------

    def take(self, timeout: float) -> Frame | None:
        """The newest frame not yet taken, waiting up to `timeout` seconds for one; None if none came."""
        with self._ready:
            self._ready.wait_for(lambda: self._newest is not None or self._stop.is_set(), timeout)
            frame, self._newest = self._newest, None
            return frame

    def drop(self, frame: Frame) -> None:
        """A taken frame that never got an answer (its inference hung or crashed): count it as dropped."""
        with self._ready:
            self.dropped_frames += 1

    # --- what the heartbeat says -------------------------------------------------------------------------

    def last_frame_age(self) -> float | None:
        last = self._last_frame_at
        return None if last is None else max(0.0, self.clock() - last)

    def status(self) -> str:
        age = self.last_frame_age()
        if age is None:  # nothing yet: waiting for the first frame, then offline like any silent camera
            return DEGRADED if self.clock() - self._started_at < self.offline_after else OFFLINE
        return OK if age < self.offline_after else OFFLINE

    def snapshot(self) -> dict[str, Any]:
        """This camera's entry in the heartbeat's `cameras` (the server's CameraStatusSerializer)."""
        status, age = self.status(), self.last_frame_age()
        entry: dict[str, Any] = {"name": self.name, "status": status, "fps": self.fps.rate(),
                                 "inference_fps": self.inference_fps.rate(), "dropped_frames": self.dropped_frames}
        if age is not None:
            entry["last_frame_age_seconds"] = round(age, 2)
        if status != OK:
            entry["message"] = self.message or (
                "waiting for the first frame" if age is None else f"no frame for {age:.1f} s")
        return entry
