"""The detector in a child process under a watchdog: a hung inference is killed and the detector restarted.

Why a process and not a thread: a thread stuck inside onnxruntime (a model that loops, a driver that never
returns) cannot be stopped, and a native crash in an operator would take the whole device client with it. The
child (started with `spawn`: a clean interpreter, none of the parent's threads or open SQLite handles) loads
the model once, says `ready`, then answers one frame at a time over a pipe. The parent gives each frame
`timeout` seconds:

- no answer in time → the child is SIGKILLed and reaped, a fresh one is started at once (it loads the model
  while the parent goes on), `watchdog_restarts` and `crashes` are counted (the server's `crashes` counts
  both), and `infer` raises InferenceHung;
- the child died (the pipe closed) → it is reaped and replaced, `crashes` is counted, InferenceCrashed;
- the detector raised → the child answers with the error and lives on, InferenceError.

The frame being inferred when the child hangs or dies is lost: no event was made from it yet (events are only
captured from an answer), so nothing in the outbox depends on it; the pipeline counts it as a dropped frame.
The outbox and spool live in the parent alone, so a kill can never leave them half-written.

The timeout runs from the frame being sent to its answer; starting a child (importing onnxruntime, loading
the model) has its own, longer `start_timeout`.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from edge.heartbeat import CRASHES, WATCHDOG_RESTARTS  # outbox counters: a child that died or was killed
from edge.rates import Latencies, RateMeter

log = logging.getLogger("loupe-edge.watchdog")

DEFAULT_TIMEOUT = 10.0
DEFAULT_START_TIMEOUT = 120.0
KILL_WAIT = 5.0  # seconds to reap a SIGKILLed child (it cannot refuse; this only bounds a wedged kernel)


class Detects(Protocol):
    def detect(self, image: Any) -> list[dict[str, Any]]: ...


DetectorFactory = Callable[[str], Detects]  # model path → detector; must be picklable (a module-level function)


class InferenceFailed(RuntimeError):
    """No answer for this frame."""


class InferenceHung(InferenceFailed):
    """The child did not answer within the timeout; it was killed and a new one started."""


class InferenceCrashed(InferenceFailed):
    """The child died while inferring; it was replaced."""


class InferenceError(InferenceFailed):
    """The detector raised on this frame (the child lives on)."""


class DetectorUnavailable(RuntimeError):
    """A child could not load the model (a bad file, a missing runtime) or did not get ready in time."""


def onnx_detector(model_path: str) -> Detects:
    """The default detector: loupe_vision's, the one the server pre-labels with (one intra-op thread)."""
    from loupe_vision.detector import Detector

    return Detector(model_path)


def _runtime() -> dict[str, Any]:
    """What the server needs to offer only models this device can load: the onnxruntime version and the highest
    ONNX opset it implements. The opset comes from the runtime's own operator registry (the opset ORT refuses to
    load a model beyond), not from a version table that would go stale with each release."""
    try:
        import onnxruntime
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_c
    except ImportError:
        return {}
    runtime: dict[str, Any] = {"onnxruntime": onnxruntime.__version__}
    # A minimal build without the schema registry reports no opset, and the server then offers every model.
    with contextlib.suppress(AttributeError, ValueError):
        runtime["opset"] = max(schema.since_version for schema in ort_c.get_all_operator_schema()
                               if schema.domain in ("", "ai.onnx"))
    return runtime


def _serve(conn: Connection, model_path: str, make_detector: DetectorFactory) -> None:
    """The child: load the model, say ready, answer `(seq, pixels)` with `(seq, status, payload)` until EOF."""
    try:
        detector = make_detector(model_path)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which cannot catch it across processes
        conn.send(("failed", f"{type(exc).__name__}: {str(exc)[:500]}"))
        return
    conn.send(("ready", _runtime()))
    while True:
        try:
            seq, pixels = conn.recv()
        except EOFError:  # the parent closed the pipe (or died): nothing left to do
            return
        try:
            conn.send((seq, "ok", detector.detect(pixels)))
        except Exception as exc:  # noqa: BLE001 - this frame's failure, not the child's
            conn.send((seq, "error", f"{type(exc).__name__}: {str(exc)[:500]}"))


class WatchedDetector:
    """A detector in a child process with a per-frame deadline. `infer` is serial (one frame in flight)."""

    def __init__(self, model_path: str | Path, *, timeout: float = DEFAULT_TIMEOUT,
                 start_timeout: float = DEFAULT_START_TIMEOUT, make_detector: DetectorFactory = onnx_detector,
                 count: Callable[[str], None] | None = None) -> None:
        self.model_path = str(model_path)
        self.timeout, self.start_timeout = timeout, start_timeout
        self.make_detector = make_detector
        self.count = count or (lambda name: None)  # persists a counter (the outbox's `bump`)
        self.latencies = Latencies()
        self.rate = RateMeter()
        self.restarts = self.crashes = 0  # this process's share of the persisted counters
        self.runtime: dict[str, Any] = {}
        self.last_failure = ""
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None
        self._ready = False
        self._closed = False
        self._seq = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # --- the child's life -----------------------------------------------------------------------------

    def _spawn(self) -> None:
        """Start a child; it loads the model while the parent does something else (see `_wait_ready`)."""
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, self.model_path, self.make_detector),
                                              daemon=True, name="loupe-edge-detector")
        self._process.start()
        child.close()
        self._conn, self._ready = parent, False

    def _wait_ready(self) -> Connection:
        if self._closed:
            raise DetectorUnavailable("the detector is closed")
        if self._process is None:
            self._spawn()
        assert self._conn is not None
        if self._ready:
            return self._conn
        try:
            if not self._conn.poll(self.start_timeout):
                raise DetectorUnavailable(f"the detector did not load {self.model_path} within "
                                          f"{self.start_timeout:g} s")
            status, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._process.exitcode
            self._reap()
            raise DetectorUnavailable(f"the detector process died while loading (exit code {code})") from exc
        except DetectorUnavailable:
            self._reap()
            raise
        if status != "ready":
            self._reap()
            raise DetectorUnavailable(f"the detector cannot load {self.model_path}: {payload}")
        self.runtime, self._ready = payload, True
        log.info("detector ready (pid %d, model %s)", self._process.pid, self.model_path)
        return self._conn

    def _reap(self) -> None:
        """Kill the child if it is still alive and wait for it, so its pid is gone when this returns."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(KILL_WAIT)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn, self._ready = None, None, False

    def start(self) -> WatchedDetector:
        """Start the child and wait until it has loaded the model (DetectorUnavailable if it cannot)."""
        with self._lock:
            self._wait_ready()
        return self

    def switch(self, model_path: str | Path) -> None:
        """Run another model (an over-the-air update): the old child goes, a new one loads the new file."""
        with self._lock:
            self._reap()
            self.model_path = str(model_path)
            if not self._closed:
                self._spawn()

    def close(self) -> None:
        """Stop the child, at once: a frame in flight (or a model loading) is abandoned, not waited for, and
        not counted as a crash."""
        self._closed = True
        process = self._process
        if process is not None and process.is_alive():
            process.kill()  # without the lock: an `infer` waiting on this child holds it
        with self._lock:
            self._reap()

    # --- one frame ----------------------------------------------------------------------------------

    def infer(self, pixels: Any) -> list[dict[str, Any]]:
        """The detections for one frame, or an InferenceFailed (see the module); DetectorUnavailable if no
        child can be started."""
        with self._lock:
            conn = self._wait_ready()
            self._seq += 1
            started = time.monotonic()
            try:
                conn.send((self._seq, pixels))
                if not conn.poll(self.timeout):
                    self._hung(started)
                seq, status, payload = conn.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError, OSError) as exc:
                if self._closed:
                    raise InferenceFailed("the detector was closed") from exc
                self._crashed()
                raise InferenceCrashed(self.last_failure) from exc
            if seq != self._seq:  # cannot happen with one frame in flight; never pair a frame with another's boxes
                self._reap()
                self._spawn()
                raise InferenceCrashed(f"answer {seq} for frame {self._seq}: the detector was restarted")
            if status != "ok":
                self.last_failure = f"the detector failed on a frame: {payload}"
                raise InferenceError(self.last_failure)
            self.latencies.add((time.monotonic() - started) * 1000)
            self.rate.tick()
            return list(payload)

    def _hung(self, started: float) -> None:
        old = self._process.pid
        self._reap()
        self.restarts += 1
        self.crashes += 1
        self.count(WATCHDOG_RESTARTS)
        self.count(CRASHES)
        self._spawn()  # the replacement loads now; the next frame waits for it to be ready
        self.last_failure = (f"inference hung for {time.monotonic() - started:.1f} s (timeout {self.timeout:g} s): "
                             f"detector pid {old} killed, restarted as pid {self._process.pid}")
        log.warning("%s", self.last_failure)
        raise InferenceHung(self.last_failure)

    def _crashed(self) -> None:
        code = None
        if self._process is not None:
            self._process.join(KILL_WAIT)  # its pipe closed as it exited: let it finish, for its true exit code
            code = self._process.exitcode
        self._reap()
        self.crashes += 1
        self.count(CRASHES)
        self._spawn()
        self.last_failure = f"the detector process died (exit code {code}); restarted"
        log.warning("%s", self.last_failure)

    def health(self) -> dict[str, Any]:
        """inference_fps, p50/p95 latency (ms, frame sent → answer received, IPC included) and the runtime."""
        figures: dict[str, Any] = {"inference_fps": self.rate.rate(), **self.latencies.summary()}
        if self.runtime:
            figures["runtime"] = self.runtime
        return figures
