"""Run detector inference in a child process under a watchdog (no Django here).

A stuck or crashing inference (a model that loops, a native crash in an operator) must fail one pre-label with
a reason, not hang or kill the worker that asked. `InferenceWorker` keeps one long-lived child process per
parent process: the child caches one onnxruntime session per model version (`prelabel.detector_for`), so only
the first request pays the session load. A request that overruns its deadline kills the child; the next
request starts a fresh one.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any


class InferenceFailed(Exception):
    """The inference did not produce boxes; `reason` says why (timeout, crash, or the model's error)."""

    def __init__(self, reason: str, *, kind: str) -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


@dataclass(frozen=True)
class InferenceRequest:
    model_path: str
    model_sha256: str
    class_names: list[str]
    imgsz: int
    image: bytes  # an encoded frame (JPEG/PNG)
    intra_op_threads: int = 1
    conf_threshold: float | None = None  # None: the detector's operating point; evaluation asks for ~0


def _serve(conn: Connection, max_memory_mb: int) -> None:
    """The child: answer requests until the pipe closes. Its address space is capped, so a model that passed
    validation but blows up on a real frame fails this request (the parent sees the crash), not the machine."""
    import resource

    if max_memory_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (max_memory_mb * 1024 * 1024,) * 2)
    from activelearning.registry.detector import (
        detector_for,  # onnxruntime and OpenCV load once, here
    )

    while True:
        try:
            request: InferenceRequest = conn.recv()
        except EOFError:
            return
        try:
            detector = detector_for(request.model_path, request.model_sha256, class_names=request.class_names,
                                    imgsz=request.imgsz, intra_op_threads=request.intra_op_threads)
            boxes, times = detector.detect_timed(request.image, conf_threshold=request.conf_threshold)
            conn.send(("ok", boxes, {"decode": times.decode_ms, "letterbox": times.letterbox_ms,
                                     "inference": times.inference_ms, "postprocess": times.postprocess_ms}))
        except Exception as exc:  # noqa: BLE001 - reported to the parent as this request's failure
            conn.send(("error", f"{type(exc).__name__}: {str(exc)[:500]}", {}))


class InferenceWorker:
    """One child process answering inference requests, with a deadline per request. Thread-safe (serial)."""

    def __init__(self, max_memory_mb: int = 4096) -> None:
        self.max_memory_mb = max_memory_mb
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        # spawn: a clean interpreter, no inherited database connections or threads.
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.max_memory_mb), daemon=True,
                                        name="loupe-inference")
        self._process.start()
        child.close()
        self._conn = parent
        return parent

    def _kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def infer(self, request: InferenceRequest, *, timeout: float) -> tuple[list[dict[str, Any]], dict[str, float]]:
        """Boxes and stage times, or InferenceFailed (kind `timeout`, `crashed` or `error`)."""
        with self._lock:
            conn = self._conn if self._process is not None and self._process.is_alive() else None
            if conn is None:
                self._kill()
                conn = self._start()
            started = time.monotonic()
            try:
                conn.send(request)
                if not conn.poll(timeout):
                    self._kill()
                    raise InferenceFailed(f"inference did not finish within {timeout:g} s", kind="timeout")
                status, payload, times = conn.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError, OSError) as exc:
                code = self._process.exitcode if self._process is not None else None
                self._kill()
                raise InferenceFailed(f"the inference process died (exit code {code})", kind="crashed") from exc
            if status != "ok":
                raise InferenceFailed(str(payload), kind="error")
            times["total_with_ipc"] = (time.monotonic() - started) * 1000
            return payload, times

    def close(self) -> None:
        with self._lock:
            self._kill()


_worker: InferenceWorker | None = None
_worker_lock = threading.Lock()


def worker() -> InferenceWorker:
    """This process's inference worker (started on first use)."""
    global _worker
    from django.conf import settings  # only the parent (a Django process) asks for its worker

    with _worker_lock:
        if _worker is None:
            _worker = InferenceWorker(max_memory_mb=settings.LOUPE_INFERENCE_MEMORY_MB)
        return _worker
