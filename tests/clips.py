"""A numbered test clip: frame n shows a white bar at x = 6n, so a picture tells which frame it is."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

FRAMES, WIDTH, HEIGHT = 24, 192, 96


def numbered_clip() -> bytes:
    """An MP4 (mp4v, written by OpenCV) whose frame n has a white bar whose left edge is at x = 6n."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (WIDTH, HEIGHT))
        assert writer.isOpened()
        for n in range(FRAMES):
            image = np.full((HEIGHT, WIDTH, 3), 30, dtype=np.uint8)
            cv2.rectangle(image, (6 * n, 10), (6 * n + 12, 80), (255, 255, 255), -1)
            writer.write(image)
        writer.release()
        return path.read_bytes()


def bar_left(pixels: np.ndarray) -> int:
    """Where the bar starts on row 40 of a decoded frame: 6n for frame n."""
    bright = np.nonzero(pixels[40, :, :].mean(axis=1) > 150)[0]
    return int(bright[0])
