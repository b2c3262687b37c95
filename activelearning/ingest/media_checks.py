"""Inspect an uploaded file: sniff its real type, read its size and timing, bound it, check it decodes.

Pure (no Django): takes a path and limits, returns facts or raises MediaRejected.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from activelearning.ingest.quality import Quality, measure_quality

JPEG, PNG, MP4 = "image/jpeg", "image/png", "video/mp4"
SUPPORTED_TYPES = (JPEG, PNG, MP4)


@dataclass(frozen=True)
class MediaLimits:
    max_pixels: int
    max_clip_seconds: float
    max_clip_frames: int


@dataclass(frozen=True)
class MediaInfo:
    content_type: str
    kind: str  # "frame" | "clip"
    width: int
    height: int
    quality: Quality
    fps: float | None = None
    frame_count: int | None = None
    duration_seconds: float | None = None


class MediaRejected(Exception):
    """The file is not acceptable; `status` and `code` follow API.md."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def sniff(head: bytes) -> str | None:
    """The real type from the first bytes, whatever the client claimed."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return MP4
    return None


def inspect_media(path: Path, *, claimed_type: str, limits: MediaLimits) -> MediaInfo:
    """Check the file at `path` is what it claims and within limits; read its dimensions and quality."""
    with path.open("rb") as handle:
        head = handle.read(32)
    real_type = sniff(head)
    if real_type is None:
        raise MediaRejected(415, "unsupported_media_type", "The file is not a JPEG, PNG or MP4.")
    if real_type != claimed_type:
        raise MediaRejected(
            415, "content_type_mismatch", f"The body is {real_type}, not {claimed_type} as declared.",
            {"declared": claimed_type, "detected": real_type},
        )
    if real_type == MP4:
        return _inspect_clip(path, limits)
    return _inspect_image(path, real_type, limits)


def _check_pixels(width: int, height: int, limits: MediaLimits) -> None:
    if width <= 0 or height <= 0:
        raise MediaRejected(422, "corrupt_media", "The file declares no picture size.")
    if width * height > limits.max_pixels:
        raise MediaRejected(
            413, "too_many_pixels", f"{width}×{height} exceeds the limit of {limits.max_pixels} pixels.",
            {"width": width, "height": height, "max_pixels": limits.max_pixels},
        )


def _inspect_image(path: Path, content_type: str, limits: MediaLimits) -> MediaInfo:
    # Pillow reads only the header here, so a decompression bomb is refused before any decoding.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError as exc:
        raise MediaRejected(413, "too_many_pixels", f"The image is a decompression bomb: {exc}",
                            {"max_pixels": limits.max_pixels}) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected(422, "corrupt_media", f"The image cannot be read: {exc}") from exc
    _check_pixels(width, height, limits)
    pixels = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or pixels.shape[1] != width or pixels.shape[0] != height:
        raise MediaRejected(422, "corrupt_media", "The image does not decode.")
    return MediaInfo(content_type=content_type, kind="frame", width=width, height=height,
                     quality=measure_quality(pixels))


def _inspect_clip(path: Path, limits: MediaLimits) -> MediaInfo:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise MediaRejected(422, "corrupt_media", "The clip cannot be opened (truncated or not an MP4).")
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        declared_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        _check_pixels(width, height, limits)
        if not fps > 0 or declared_frames <= 0:
            raise MediaRejected(422, "corrupt_media", "The clip declares no frame rate or no frames.")
        if declared_frames > limits.max_clip_frames or declared_frames / fps > limits.max_clip_seconds:
            raise MediaRejected(
                413, "clip_too_long",
                f"The clip has {declared_frames} frames ({declared_frames / fps:.1f} s); the limit is "
                f"{limits.max_clip_frames} frames and {limits.max_clip_seconds:.0f} s.",
                {"frames": declared_frames, "seconds": declared_frames / fps},
            )
        # Decode every frame, sequentially: the only way to know a clip is whole (a truncated mdat
        # still has a header that promises all frames) and the frame count that stepping will see.
        decoded, middle = 0, None
        while decoded <= limits.max_clip_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if decoded == declared_frames // 2 or middle is None:
                middle = frame
            decoded += 1
    finally:
        capture.release()
    if decoded == 0 or middle is None:
        raise MediaRejected(422, "corrupt_media", "No frame of the clip decodes.")
    if decoded > limits.max_clip_frames:
        raise MediaRejected(413, "clip_too_long", f"The clip has more than {limits.max_clip_frames} frames.")
    # Containers may round the declared count by a frame or two; more missing means a cut-off file.
    if decoded < declared_frames - max(2, declared_frames // 50):
        raise MediaRejected(
            422, "corrupt_media", f"The clip is truncated: {decoded} of {declared_frames} frames decode.",
            {"declared_frames": declared_frames, "decoded_frames": decoded},
        )
    return MediaInfo(content_type=MP4, kind="clip", width=width, height=height, quality=measure_quality(middle),
                     fps=fps, frame_count=decoded, duration_seconds=decoded / fps)
