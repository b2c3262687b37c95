"""Decode an asset into per-frame JPEGs and a thumbnail. Pure (OpenCV, no Django).

Clips are read ONCE, sequentially, with a `VideoCapture.read()` loop: seeking with CAP_PROP_POS_FRAMES lands
on the nearest keyframe with some codecs, so the frame served as n would not be the frame a sequential
player shows as n. Every file is written to a temporary name and renamed into place, so a reader never
sees half a JPEG, and the `done` marker is written last: its presence means every frame is there.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

JPEG_QUALITY = 90
THUMB_MAX_SIDE = 320
DONE_MARKER = "done"
THUMB_NAME = "thumb.jpg"


class FramesUnreadable(Exception):
    """The source does not decode (corrupt, or not what its kind says)."""


@dataclass(frozen=True)
class Extraction:
    frames: int


def frame_name(n: int) -> str:
    return f"{n}.jpg"


def encode_jpeg(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FramesUnreadable("OpenCV could not encode the frame as JPEG")
    return encoded.tobytes()


def thumbnail(pixels: np.ndarray, max_side: int = THUMB_MAX_SIDE) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most `max_side`; INTER_AREA avoids aliasing."""
    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers see all of it or nothing."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def extract_clip(source: Path, out_dir: Path, *, max_frames: int) -> Extraction:
    """Decode the clip at `source` sequentially into `out_dir/<n>.jpg` (n from 0) plus a thumbnail of frame 0.

    Stops after `max_frames` (the upload limit), so the work is bounded even for a lying container.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(source), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise FramesUnreadable(f"the clip {source.name} cannot be opened")
        n = 0
        while n < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            write_atomically(out_dir / frame_name(n), encode_jpeg(frame))
            if n == 0:
                write_atomically(out_dir / THUMB_NAME, encode_jpeg(thumbnail(frame)))
            n += 1
    finally:
        capture.release()
    if n == 0:
        raise FramesUnreadable(f"no frame of {source.name} decodes")
    write_atomically(out_dir / DONE_MARKER, str(n).encode())
    return Extraction(frames=n)


def extract_image(source: Path, out_dir: Path, *, is_jpeg: bool) -> Extraction:
    """An image is a one-frame clip: frame 0 is the image itself (its own bytes when it already is a JPEG)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = source.read_bytes()
    pixels = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise FramesUnreadable(f"the image {source.name} does not decode")
    write_atomically(out_dir / frame_name(0), raw if is_jpeg else encode_jpeg(pixels))
    write_atomically(out_dir / THUMB_NAME, encode_jpeg(thumbnail(pixels)))
    write_atomically(out_dir / DONE_MARKER, b"1")
    return Extraction(frames=1)
