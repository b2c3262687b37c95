"""The server's detectors: one `loupe_vision.detector.Detector` per model version per process, its file's
sha256 checked against the registry on first use.

The detector itself (JPEG → letterbox → onnxruntime → decode → NMS) lives in the framework-free `loupe_vision`
package, which the device's camera loop runs too; its names are re-exported here for the server's callers.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loupe_vision.detector import (
    DEFAULT_CONF_THRESHOLD,
    DEFAULT_INTRA_OP_THREADS,
    DEFAULT_IOU_THRESHOLD,
    DEFAULT_MAX_DET,
    Detector,
    ImageUnreadable,
    ModelUnsupported,
    Prelabel,
    StageTimes,
    jpeg_size,
    normalise_names,
    parse_names,
    session_options,
)

__all__ = ["CACHE_SIZE", "DEFAULT_CONF_THRESHOLD", "DEFAULT_INTRA_OP_THREADS", "DEFAULT_IOU_THRESHOLD",
           "DEFAULT_MAX_DET", "Detector", "ImageUnreadable", "ModelHashMismatch", "ModelUnsupported", "Prelabel",
           "StageTimes", "clear_detector_cache", "detector_for", "jpeg_size", "normalise_names", "parse_names",
           "session_options", "sha256_of"]

CACHE_SIZE = 4  # model versions kept per process (champion, shadow, and a couple being evaluated)


class ModelHashMismatch(ValueError):
    """The model file on disk does not have the sha256 the registry recorded for it."""


# --- One session per model version per process --------------------------------------------------

_cache: OrderedDict[tuple[Any, ...], Detector] = OrderedDict()
_cache_lock = threading.Lock()


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def detector_for(path: str | Path, sha256: str, *, class_names: Sequence[str] | None = None,
                 imgsz: int | None = None, intra_op_threads: int = DEFAULT_INTRA_OP_THREADS) -> Detector:
    """The process's detector for one model version, loaded (and its sha256 checked) on first use.

    Thread-safe: concurrent first calls load the model once. The least recently used version beyond
    CACHE_SIZE is dropped. Raises ModelHashMismatch if the file is not the version the registry recorded.
    """
    key = (sha256, tuple(class_names) if class_names is not None else None, imgsz, intra_op_threads)
    with _cache_lock:
        detector = _cache.get(key)
        if detector is not None:
            _cache.move_to_end(key)
            return detector
        actual = sha256_of(path)
        if actual != sha256:
            raise ModelHashMismatch(f"{path} has sha256 {actual}, the registry says {sha256}")
        detector = Detector(path, class_names=class_names, imgsz=imgsz, intra_op_threads=intra_op_threads)
        _cache[key] = detector
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return detector


def clear_detector_cache() -> None:
    """Forget every cached session (tests; a worker that must reload models)."""
    with _cache_lock:
        _cache.clear()
