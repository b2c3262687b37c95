"""Image-quality signals for routing, computed with OpenCV. Pure: numpy in, floats out."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Measure on a bounded size: blur and brightness are stable under downscaling and this keeps
# the cost per frame constant whatever the camera resolution.
_ANALYSIS_LONG_SIDE = 640


@dataclass(frozen=True)
class Quality:
    brightness: float  # mean luma in [0, 1]
    blur: float  # variance of the Laplacian on the analysis-size grey image; lower is blurrier


def measure_quality(image_bgr: np.ndarray) -> Quality:
    """Brightness and sharpness of one frame (BGR or grey uint8)."""
    grey = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape[:2]
    scale = _ANALYSIS_LONG_SIDE / max(height, width)
    if scale < 1:
        grey = cv2.resize(grey, (max(1, round(width * scale)), max(1, round(height * scale))),
                          interpolation=cv2.INTER_AREA)
    brightness = float(grey.mean()) / 255.0
    blur = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return Quality(brightness=brightness, blur=blur)
