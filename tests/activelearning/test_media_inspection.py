"""Pure media checks: type sniffing and image-quality signals."""

from __future__ import annotations

import cv2
import numpy as np

from activelearning.ingest.media_checks import JPEG, MP4, PNG, sniff
from activelearning.ingest.quality import measure_quality
from tests.factories import jpeg_bytes, mp4_bytes, png_bytes


def test_sniff_reads_the_real_type_from_magic_bytes():
    assert sniff(jpeg_bytes()[:32]) == JPEG
    assert sniff(png_bytes()[:32]) == PNG
    assert sniff(mp4_bytes()[:32]) == MP4
    assert sniff(b"GIF89a.....") is None
    assert sniff(b"") is None


def test_dark_frames_measure_darker():
    scene = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    dark = (scene * 0.1).astype(np.uint8)
    assert measure_quality(dark).brightness < 0.1 < measure_quality(scene).brightness


def test_blurred_frames_measure_blurrier():
    scene = np.zeros((480, 640, 3), dtype=np.uint8)
    for x in range(0, 640, 16):
        cv2.line(scene, (x, 0), (x, 479), (255, 255, 255), 2)
    blurred = cv2.GaussianBlur(scene, (21, 21), 8)
    assert measure_quality(blurred).blur < measure_quality(scene).blur / 10


def test_quality_is_measured_at_a_bounded_size_so_large_frames_cost_the_same():
    big = np.full((2160, 3840), 128, dtype=np.uint8)
    quality = measure_quality(big)
    assert abs(quality.brightness - 128 / 255) < 1e-6
    assert quality.blur == 0.0
