"""A drawn face that OpenCV's frontal-face Haar cascade detects, placed in a synthetic store scene.

Flat cartoon faces (an oval with dot eyes and a line mouth) do not fire the cascade: its features compare
broad light and dark bands (the eye sockets darker than the cheeks and the bridge of the nose, the mouth
darker than the chin). So the face is painted as shading on a square canvas: a light oval with large soft
dark eye sockets and brows in the upper third, a shadow under the nose and a dark mouth. These proportions
were found by a parameter sweep and fire at every size from 32 to 160 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from loupe_synthetic.scenes import render_scene

WIDTH, HEIGHT = 640, 360
SKIN_BGR = (0.78, 0.88, 1.0)  # a grey level times this is a skin tone


def face_pattern(size: int) -> np.ndarray:
    """A `size`×`size` BGR face on a mid-grey square (the square is part of the pattern: a head on a wall)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u, v = (xx - size / 2) / (size / 2), (yy - size / 2) / (size / 2)

    def blob(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        return np.exp(-(((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2))

    oval = ((u / 0.86) ** 2 + (v / 0.9) ** 2 < 1).astype(np.float32)
    shade = np.full((size, size), 230.0, np.float32)
    for side in (-1, 1):
        shade -= 64 * blob(side * 0.3, -0.33, 0.17, 0.14)  # eye socket
        shade -= 70 * blob(side * 0.3, -0.47, 0.19, 0.05)  # brow
    shade -= 50 * blob(0, 0.46, 0.25, 0.06)  # mouth
    shade -= 40 * blob(0, 0.11, 0.1, 0.05)  # shadow under the nose
    shade += 14 * blob(0, -0.33, 0.08, 0.2)  # bridge of the nose
    grey = 88 * (1 - oval) + shade * oval
    face = np.stack([grey * k for k in SKIN_BGR], axis=-1)
    face[oval == 0] = 88
    return np.clip(face, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class FaceScene:
    image: np.ndarray
    face: tuple[int, int, int, int]  # x, y, w, h of the drawn face square
    far: tuple[int, int, int, int]  # a region far from any face and person, to check it is left alone


def scene_with_face(size: int = 96, seed: int = 3, x: int = 420, y: int = 60) -> FaceScene:
    """An empty synthetic store (no people, so nothing else is face-like) with one drawn face."""
    frame = render_scene("store", seed, width=WIDTH, height=HEIGHT, lighting="normal", crowd=0)
    image = frame.image.copy()
    image[y:y + size, x:x + size] = face_pattern(size)
    return FaceScene(image=image, face=(x, y, size, size), far=(20, 250, 160, 100))


def encode_jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()
