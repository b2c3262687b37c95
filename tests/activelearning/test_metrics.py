"""Detection metrics (activelearning/metrics.py): hand-made cases and agreement with pycocotools."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from activelearning.metrics import crowd_bucket, evaluate_detections
from loupe_synthetic.scenes import render_scene


def person(x: float, y: float, w: float, h: float, score: float | None = None, label: str = "person") -> dict[str, Any]:
    box: dict[str, Any] = {"label": label, "box": [x, y, w, h]}
    if score is not None:
        box["score"] = score
    return box


TRUTH = [[person(10, 10, 40, 100), person(200, 20, 30, 90)], [person(50, 50, 60, 120)]]


# --- Hand-made cases ----------------------------------------------------------------------------


def test_perfect_predictions_score_one_everywhere() -> None:
    predictions = [[{**b, "score": 0.9} for b in image] for image in TRUTH]
    report = evaluate_detections(predictions, TRUTH, score_threshold=0.5)
    assert report.map50 == pytest.approx(1.0) and report.map50_95 == pytest.approx(1.0)
    assert report.precision == 1.0 and report.recall == 1.0
    assert report.count_mae == 0.0 and report.count_bias == 0.0
    assert (report.true_positives, report.false_positives, report.false_negatives) == (3, 0, 0)


def test_no_predictions_score_zero_recall_and_undefined_precision() -> None:
    report = evaluate_detections([[], []], TRUTH)
    assert report.map50 == 0.0 and report.map50_95 == 0.0
    assert report.precision is None and report.recall == 0.0
    assert report.count_mae == pytest.approx(1.5) and report.count_bias == pytest.approx(-1.5)
    assert report.false_negatives == 3


def test_a_missed_person_halves_recall_and_ap_follows_the_101_point_curve() -> None:
    truth = [[person(10, 10, 40, 100), person(200, 20, 30, 90)]]
    report = evaluate_detections([[person(10, 10, 40, 100, 0.9)]], truth, score_threshold=0.5)
    assert report.recall == 0.5 and report.precision == 1.0
    assert report.map50 == pytest.approx(51 / 101)  # precision 1 at recall 0, 0.01, …, 0.50; 0 beyond
    assert report.count_mae == 1.0


def test_a_duplicate_box_is_a_false_positive_but_does_not_lower_ap_when_it_scores_lower() -> None:
    truth = [[person(10, 10, 40, 100)]]
    predictions = [[person(10, 10, 40, 100, 0.9), person(12, 11, 40, 100, 0.8)]]
    report = evaluate_detections(predictions, truth, score_threshold=0.5)
    assert report.map50 == pytest.approx(1.0)
    assert (report.true_positives, report.false_positives) == (1, 1)
    assert report.precision == 0.5 and report.count_mae == 1.0 and report.count_bias == 1.0


def test_a_confident_false_positive_lowers_ap() -> None:
    truth = [[person(10, 10, 40, 100)]]
    predictions = [[person(300, 10, 40, 100, 0.95), person(10, 10, 40, 100, 0.5)]]
    assert evaluate_detections(predictions, truth).map50 == pytest.approx(0.5)


def test_a_loose_box_counts_at_iou_half_but_not_at_the_strict_thresholds() -> None:
    truth = [[person(0, 0, 100, 100)]]
    predictions = [[person(0, 0, 100, 160, 0.9)]]  # IoU 0.625
    report = evaluate_detections(predictions, truth)
    assert report.map50 == pytest.approx(1.0)
    assert report.map50_95 == pytest.approx(0.3)  # matched at 0.50, 0.55, 0.60 of ten thresholds


def test_classes_are_averaged_and_a_wrong_label_is_no_match() -> None:
    truth = [[person(0, 0, 50, 100), person(100, 0, 50, 50, label="trolley")]]
    predictions = [[person(0, 0, 50, 100, 0.9), person(100, 0, 50, 50, 0.9, label="person")]]
    report = evaluate_detections(predictions, truth)
    assert report.per_class["person"].ap50 == pytest.approx(1.0)
    assert report.per_class["trolley"].ap50 == 0.0
    assert report.map50 == pytest.approx(0.5)


def test_count_label_counts_only_that_class() -> None:
    truth = [[person(0, 0, 50, 100), person(100, 0, 50, 50, label="trolley")]]
    predictions = [[person(0, 0, 50, 100, 0.9)]]
    assert evaluate_detections(predictions, truth, count_label="person").count_mae == 0.0
    assert evaluate_detections(predictions, truth).count_mae == 1.0


def test_slices_report_each_key_and_value_apart() -> None:
    predictions = [[{**TRUTH[0][0], "score": 0.9}], [{**TRUTH[1][0], "score": 0.9}]]
    slices = [{"site": "north", "crowd": crowd_bucket(2)}, {"site": "south", "crowd": crowd_bucket(1)}]
    report = evaluate_detections(predictions, TRUTH, score_threshold=0.5, slices=slices)
    assert set(report.slices) == {"site", "crowd"}
    assert report.slices["site"]["north"].recall == 0.5 and report.slices["site"]["north"].count_mae == 1.0
    assert report.slices["site"]["south"].recall == 1.0 and report.slices["site"]["south"].images == 1
    assert set(report.slices["crowd"]) == {"1-2"}
    assert report.as_dict()["slices"]["site"]["south"]["map50"] == 1.0


def test_crowd_buckets() -> None:
    assert [crowd_bucket(n) for n in (0, 1, 2, 3, 10, 11, 25)] == ["empty", "1-2", "1-2", "3-10", "3-10", "11+", "11+"]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="prediction lists"):
        evaluate_detections([[]], TRUTH)


# --- Agreement with pycocotools -----------------------------------------------------------------


def noisy_predictions(truth: list[list[dict[str, Any]]], rng: np.random.Generator) -> list[list[dict[str, Any]]]:
    """A plausible detector: jittered hits, misses, duplicates and false alarms, some with the wrong class."""
    out = []
    for image in truth:
        preds = []
        for gt in image:
            if rng.random() < 0.15:
                continue  # missed
            x, y, w, h = gt["box"]
            for _ in range(1 + int(rng.random() < 0.2)):  # sometimes a duplicate
                j = rng.normal(0, 0.08, 4) * [w, h, w, h]
                label = gt["label"] if rng.random() < 0.9 else "bag"
                preds.append(person(x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3]),
                                    float(rng.uniform(0.3, 1.0)), label))
        preds.extend(  # false alarms
            person(*rng.uniform([0, 0, 10, 20], [600, 300, 60, 150]), float(rng.uniform(0, 0.7)),
                   str(rng.choice(["person", "bag"])))
            for _ in range(int(rng.integers(0, 4))))
        out.append(preds)
    return out


def coco_map(predictions: list[list[dict[str, Any]]], truth: list[list[dict[str, Any]]]) -> tuple[float, float]:
    labels = sorted({b["label"] for image in truth for b in image} | {b["label"] for image in predictions for b in image})
    cat = {label: i + 1 for i, label in enumerate(labels)}
    gt: dict[str, Any] = {"images": [{"id": i + 1, "width": 640, "height": 360} for i in range(len(truth))],
                          "categories": [{"id": v, "name": k} for k, v in cat.items()], "annotations": []}
    for i, image in enumerate(truth):
        for b in image:
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i + 1, "category_id": cat[b["label"]],
                                      "bbox": b["box"], "area": b["box"][2] * b["box"][3], "iscrowd": 0})
    dets = [{"image_id": i + 1, "category_id": cat[b["label"]], "bbox": b["box"], "score": b["score"]}
            for i, image in enumerate(predictions) for b in image]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(dets), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[1]), float(evaluator.stats[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_agrees_with_pycocotools_on_synthetic_scenes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = []
    for k in range(30):
        scene = render_scene("store" if k % 2 else "bus", seed * 1000 + k)
        truth.append([{**b.as_dict(), "label": "person" if i % 5 else "bag"} for i, b in enumerate(scene.boxes)])
    predictions = noisy_predictions(truth, rng)
    map50, map50_95 = coco_map(predictions, truth)
    report = evaluate_detections(predictions, truth)
    assert 0.2 < map50 < 0.99  # a case with something to get wrong
    assert report.map50 == pytest.approx(map50, abs=1e-3)
    assert report.map50_95 == pytest.approx(map50_95, abs=1e-3)
