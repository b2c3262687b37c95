"""A simulated field detector: what an edge model would report for a synthetic scene.

Pure and deterministic from the seed: worse in the dark and in crowds, with misses, jitter and false
positives, so the review loop sees the failures real devices have.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loupe_synthetic.scenes import Box, GroundTruth, SceneMeta, Seed, rng_from

CONFIDENCE_THRESHOLD = 0.25  # the field detector drops boxes scored below this, as real ones do

_LIGHT_QUALITY = {"bright": 0.93, "normal": 0.88, "dim": 0.7, "night": 0.5}
_FALSE_POSITIVES = {"bright": 0.05, "normal": 0.1, "dim": 0.35, "night": 0.8}


def detection_quality(meta: SceneMeta) -> float:
    """How well the field detector sees this scene, in (0, 1): worse in the dark and in crowds."""
    return _LIGHT_QUALITY[meta.lighting] - min(0.25, 0.012 * max(0, meta.crowd - 5))


def _clip_to_image(box: Box, width: int, height: int) -> list[float] | None:
    x, y, w, h = (float(v) for v in box)  # plain floats: the result goes straight into JSON
    x0, y0, x1, y1 = max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]


def simulate_detections(boxes: list[GroundTruth], meta: SceneMeta, seed: Seed) -> list[dict[str, Any]]:
    """What an edge detector would report for this scene, in the event format of API.md.

    Each person is found with a probability and scored around the scene's detection quality, so
    night and crowded scenes give fewer, lower-scored and looser boxes; dark scenes add false positives.
    """
    rng = rng_from(seed)
    base = detection_quality(meta)
    detections: list[dict[str, Any]] = []
    for gt in boxes:
        x, y, w, h = gt.box
        quality = base - (0.12 if h < 0.22 * meta.height else 0.0)  # small, far people are harder
        found = rng.random() < 0.3 + 0.7 * quality
        score = float(np.clip(rng.normal(quality, 0.09), 0.01, 0.99))
        sigma = 0.02 + 0.12 * (1.0 - quality)
        dx, dy, dw, dh = rng.normal(0.0, sigma, 4)
        if not found or score < CONFIDENCE_THRESHOLD:
            continue
        jittered = (x + dx * w, y + dy * h * 0.5, w * (1 + dw), h * (1 + dh))
        box = _clip_to_image(jittered, meta.width, meta.height)
        if box is not None:
            detections.append({"label": gt.label, "score": round(score, 3), "box": box, "track_id": gt.track_id})
    for k in range(int(rng.poisson(_FALSE_POSITIVES[meta.lighting] + 0.01 * meta.crowd))):
        h = float(rng.uniform(0.15, 0.6)) * meta.height
        x, y = float(rng.uniform(0, meta.width - 0.4 * h)), float(rng.uniform(0, meta.height - h))
        box = _clip_to_image((x, y, 0.4 * h, h), meta.width, meta.height)
        if box is not None:
            detections.append({"label": "person", "score": round(float(rng.uniform(0.26, 0.55)), 3),
                               "box": box, "track_id": 9000 + k})
    return detections


def simulate_count(true_count: int, meta: SceneMeta, seed: Seed) -> int:
    """The line count a field device reports: misses people in bad light, double-counts a few in crowds."""
    rng = rng_from(seed)
    quality = detection_quality(meta)
    missed = int(rng.binomial(true_count, 0.5 * (1.0 - quality)))
    doubled = int(rng.binomial(true_count, 0.03 + 0.01 * max(0, meta.crowd - 5)))
    return max(0, true_count - missed + doubled)


def field_reason(detections: list[dict[str, Any]], meta: SceneMeta, seed: Seed) -> str | None:
    """Why the device itself flags the frame (API.md `reason`), or None when it is sure."""
    rng = rng_from(seed)
    ood_draw, audit_draw = rng.random(), rng.random()
    if meta.lighting == "night" and ood_draw < 0.5:
        return "ood"
    if any(d["score"] < 0.5 for d in detections):
        return "low_confidence"
    if audit_draw < 0.04:
        return "audit_sample"
    return None
