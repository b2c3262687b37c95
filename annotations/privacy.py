"""Face blurring before frames are shown to people. Pure (numpy + OpenCV, no Django).

Faces are found with OpenCV's bundled frontal-face Haar cascade (`haarcascade_frontalface_default.xml`, shipped
in opencv-python-headless under `cv2.data.haarcascades`). It finds frontal faces from about 24 px across and
misses profiles, heads seen from above or behind, and small faces, which are common on store and bus
cameras. So callers also pass the people they know about (`head_boxes` of the `person` boxes a model or
a person drew) and those heads are blurred whatever the cascade says: the top fifth of a standing person's box
holds the head at any distance, with the shoulders as margin.

Each region is grown by 20 % (faces found by the cascade are cut tight at the forehead and chin), pixelated to
a few cells across and then blurred, so nothing of the face survives to be recovered by deblurring.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in pixels

CASCADE_FILE = "haarcascade_frontalface_default.xml"
# Part of every blurred variant's cache name and ETag: change it when the output changes for the same input.
ALGORITHM_VERSION = 1
GROW = 0.2
HEAD_FRACTION = 0.2  # of a person box's height, from its top
CELLS_ACROSS = 6  # pixelation cells across the shorter side of a region
MIN_FACE = 24  # the cascade's own window; smaller faces are left to `head_boxes`

_cascade: cv2.CascadeClassifier | None = None
# A CascadeClassifier keeps scratch buffers on the object, so one instance is not safe to share between
# threads: the process loads it once and detection takes turns (it costs tens of ms on a 640×360 frame,
# once per cached frame).
_cascade_lock = threading.Lock()


class CascadeMissing(RuntimeError):
    """The OpenCV install has no face cascade (a build without `cv2.data`)."""


@dataclass(frozen=True)
class BlurResult:
    image: np.ndarray
    faces: list[Box]  # what the cascade found
    regions: list[Box]  # every region blurred (faces and extra boxes, grown and clipped to the image)


def _classifier() -> cv2.CascadeClassifier:
    """Call holding `_cascade_lock`."""
    global _cascade
    if _cascade is None:
        classifier = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE_FILE)  # type: ignore[attr-defined]
        if classifier.empty():
            raise CascadeMissing(f"OpenCV could not load {CASCADE_FILE}")
        _cascade = classifier
    return _cascade


def detect_faces(image: np.ndarray) -> list[Box]:
    """Frontal faces in a BGR or grey image, as boxes."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    grey = cv2.equalizeHist(grey)  # dim store and night bus frames: stretch contrast first
    with _cascade_lock:
        found = _classifier().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                               minSize=(MIN_FACE, MIN_FACE))
    return sorted((int(x), int(y), int(w), int(h)) for x, y, w, h in found)


def head_boxes(person_boxes: Iterable[Sequence[float]], fraction: float = HEAD_FRACTION) -> list[Box]:
    """The top `fraction` of each `[x, y, w, h]` person box, full width: where the head is."""
    heads = []
    for x, y, w, h in person_boxes:
        if w > 0 and h > 0:
            heads.append((int(x), int(y), max(1, round(w)), max(1, round(h * fraction))))
    return heads


def grow(box: Box, factor: float, width: int, height: int) -> Box | None:
    """`box` grown by `factor` of its size about its centre, clipped to the image; None if nothing is left."""
    x, y, w, h = box
    dx, dy = w * factor / 2, h * factor / 2
    x0, y0 = max(0, int(np.floor(x - dx))), max(0, int(np.floor(y - dy)))
    x1, y1 = min(width, int(np.ceil(x + w + dx))), min(height, int(np.ceil(y + h + dy)))
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def blur_regions(image: np.ndarray, boxes: Iterable[Box], factor: float = GROW) -> tuple[np.ndarray, list[Box]]:
    """A copy of `image` with each box (grown by `factor`) pixelated and blurred; the regions blurred."""
    out = image.copy()
    height, width = image.shape[:2]
    regions = []
    for box in boxes:
        region = grow(box, factor, width, height)
        if region is None:
            continue
        x, y, w, h = region
        patch = out[y:y + h, x:x + w]
        cell = max(1, min(w, h) // CELLS_ACROSS)
        coarse = cv2.resize(patch, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
        blocky = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST)
        out[y:y + h, x:x + w] = cv2.GaussianBlur(blocky, (0, 0), sigmaX=max(1.0, cell / 2))
        regions.append(region)
    return out, regions


def blur_faces(image: np.ndarray, extra_boxes: Iterable[Box] = ()) -> BlurResult:
    """Blur the faces the cascade finds and every box in `extra_boxes` (e.g. `head_boxes` of known people)."""
    faces = detect_faces(image)
    blurred, regions = blur_regions(image, [*faces, *extra_boxes])
    return BlurResult(image=blurred, faces=faces, regions=regions)


def variant_key(extra_boxes: Iterable[Box]) -> str:
    """A short name for the blurred variant of a frame: the algorithm and the extra boxes decide its pixels."""
    text = f"v{ALGORITHM_VERSION}:" + ";".join(",".join(map(str, box)) for box in sorted(extra_boxes))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
