"""Synthetic stores and buses for demos, tests and the field simulator (pure numpy + OpenCV, deterministic
from a seed).

`scenes` draws frames and clips with their ground truth; `field_model` plays the edge detector. A top-level
package, not part of the server: `loupe-edge simulate` ships it to devices (the `sim` extra of edge/pyproject.toml)
and the server's demo, trainer and tests use the same scenes. It imports neither Django nor the server.
"""

from loupe_synthetic.field_model import (
    CONFIDENCE_THRESHOLD,
    detection_quality,
    field_reason,
    simulate_count,
    simulate_detections,
)
from loupe_synthetic.scenes import (
    LIGHTING_GAIN,
    LIGHTINGS,
    MAX_CROWD,
    CountLine,
    GroundTruth,
    SceneKind,
    SceneMeta,
    SyntheticClip,
    SyntheticFrame,
    encode_jpeg,
    encode_mp4,
    render_clip,
    render_scene,
    sample_crowd,
    sample_lighting,
)

__all__ = [
    "CONFIDENCE_THRESHOLD", "LIGHTINGS", "LIGHTING_GAIN", "MAX_CROWD", "CountLine", "GroundTruth", "SceneKind",
    "SceneMeta", "SyntheticClip", "SyntheticFrame", "detection_quality", "encode_jpeg", "encode_mp4",
    "field_reason", "render_clip", "render_scene", "sample_crowd", "sample_lighting", "simulate_count",
    "simulate_detections",
]
