"""The demo people detector committed in activelearning/demo/ (made by activelearning.training.trainers.reference on
synthetic scenes; its card, people-detector.json, says how and how well)."""

from __future__ import annotations

from pathlib import Path

import orjson

from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.registry.services import promote_model, register_model_file, store_weights
from annotations.models import Project

DEMO_DIR = Path(__file__).resolve().parent  # the committed detector lives beside this module
DEMO_DETECTOR = DEMO_DIR / "people-detector.onnx"
DEMO_WEIGHTS = DEMO_DIR / "people-detector.weights.npz"


def demo_operating_threshold() -> float:
    card = orjson.loads(DEMO_DETECTOR.with_suffix(".json").read_bytes())
    return float(card["operating_point"]["score_threshold"])


def install_demo_detector(project: Project) -> ModelVersion:
    """Register the demo detector through the same validation as an upload, keep its weights (retraining
    fine-tunes them) and make it the project's champion."""
    model = register_model_file(project=project, path=DEMO_DETECTOR, name="people-detector", user=None,
                                conf_threshold=demo_operating_threshold())
    store_weights(model, DEMO_WEIGHTS)
    return promote_model(model=model, user=None, to=ModelStatus.CHAMPION)
