"""Detection metrics over a dataset: COCO-style mAP, precision/recall, count error, and the same per slice;
and the drift maths (a confidence histogram with fixed bins, the population stability index between two).

Pure (numpy, no Django). Inputs are plain data, one list per image, in the shapes the rest of Loupe uses:
a prediction is `{"label": str, "score": float, "box": [x, y, w, h]}` (what `prelabel.Detector.detect`
returns and a Prediction row stores), a ground-truth box is `{"label": str, "box": [x, y, w, h]}`.

AP follows pycocotools (area range "all", up to `max_det` detections per image and class): greedy matching
by score at each IoU threshold (0.50, 0.55, …, 0.95), the precision envelope sampled at 101 recall points,
averaged per class, then over the classes that have ground truth. The tests hold it to pycocotools ±1e-3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from loupe_vision.geometry import box_iou, xywh_to_xyxy

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
COCO_MAX_DET = 100
CROWD_BUCKETS = ((0, "empty"), (1, "1-2"), (3, "3-10"), (11, "11+"))

Detection = Mapping[str, Any]  # {"label", "score", "box": [x, y, w, h]}
Truth = Mapping[str, Any]  # {"label", "box": [x, y, w, h]}


@dataclass(frozen=True)
class ClassAP:
    ap50: float
    ap50_95: float
    ground_truth: int


@dataclass(frozen=True)
class DetectionReport:
    """Metrics of one set of images (the whole dataset, or one slice of it)."""

    images: int
    ground_truth: int
    predictions: int  # at or above the score threshold
    map50: float | None  # None when no image has ground truth
    map50_95: float | None
    precision: float | None  # at the score threshold, IoU ≥ 0.5; None when nothing was predicted
    recall: float | None  # None when there is no ground truth
    true_positives: int
    false_positives: int
    false_negatives: int
    count_mae: float  # mean |predicted count − true count| per image, predictions at the threshold
    count_bias: float  # mean (predicted − true): negative means the model undercounts
    per_class: dict[str, ClassAP] = field(default_factory=dict)
    slices: dict[str, dict[str, DetectionReport]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, floats rounded to 4 places."""
        return _rounded(asdict(self))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def crowd_bucket(count: int) -> str:
    """The crowd-size slice of an image with `count` true people: empty, 1-2, 3-10, 11+."""
    label = CROWD_BUCKETS[0][1]
    for low, name in CROWD_BUCKETS:
        if count >= low:
            label = name
    return label


@dataclass
class _Matches:
    """Per class, over all images: detection scores, whether each matched at each IoU threshold, GT count."""

    scores: list[np.ndarray] = field(default_factory=list)
    matched: list[np.ndarray] = field(default_factory=list)  # [T, D] bool per image
    ground_truth: int = 0


def _match_image(pred_boxes: np.ndarray, pred_scores: np.ndarray, gt_boxes: np.ndarray,
                 thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy COCO matching of one image and class. Returns (score order, matched `[T, D]`) for the
    detections sorted by score (stable): each takes the unmatched ground truth of highest IoU ≥ threshold."""
    order = np.argsort(-pred_scores, kind="mergesort")
    d, g, t = len(order), len(gt_boxes), len(thresholds)
    matched = np.zeros((t, d), bool)
    if d == 0 or g == 0:
        return order, matched
    ious = box_iou(pred_boxes[order], gt_boxes, dtype=np.float64)
    taken = np.zeros((t, g), bool)
    limit = np.minimum(thresholds, 1 - 1e-10)[:, None]
    for k in range(d):
        candidate = np.where(~taken & (ious[k][None, :] >= limit), ious[k][None, :], -1.0)
        best = candidate.argmax(axis=1)
        hit = candidate[np.arange(t), best] >= 0
        matched[hit, k] = True
        taken[np.flatnonzero(hit), best[hit]] = True
    return order, matched


def _average_precision(scores: list[np.ndarray], matched: list[np.ndarray], ground_truth: int) -> np.ndarray:
    """AP per IoU threshold `[T]` from one class's detections over all images (101-point interpolation)."""
    t = len(IOU_THRESHOLDS)
    if not scores or sum(len(s) for s in scores) == 0:
        return np.zeros(t)
    all_scores = np.concatenate(scores)
    order = np.argsort(-all_scores, kind="mergesort")
    hits = np.concatenate(matched, axis=1)[:, order]
    tp = np.cumsum(hits, axis=1, dtype=np.float64)
    fp = np.cumsum(~hits, axis=1, dtype=np.float64)
    recall = tp / ground_truth
    precision = tp / (tp + fp + np.spacing(1))
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    ap = np.zeros(t)
    for i in range(t):
        idx = np.searchsorted(recall[i], RECALL_POINTS, side="left")
        sampled = np.where(idx < envelope.shape[1], envelope[i][np.minimum(idx, envelope.shape[1] - 1)], 0.0)
        ap[i] = sampled.mean()
    return ap


def _as_arrays(items: Sequence[Mapping[str, Any]], with_scores: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    boxes = xywh_to_xyxy([list(item["box"]) for item in items]) if items else np.zeros((0, 4), np.float32)
    scores = np.array([float(item["score"]) for item in items] if with_scores else [], np.float64)
    return boxes.astype(np.float64), scores, [str(item["label"]) for item in items]


def _report(predictions: Sequence[Sequence[Detection]], truths: Sequence[Sequence[Truth]], *,
            score_threshold: float, max_det: int, count_label: str | None) -> DetectionReport:
    per_class: dict[str, _Matches] = {}
    tp = fp = n_gt = n_pred = 0
    count_errors: list[int] = []
    at_half = IOU_THRESHOLDS[:1]
    for preds, gts in zip(predictions, truths, strict=True):
        p_boxes, p_scores, p_labels = _as_arrays(preds, with_scores=True)
        g_boxes, _, g_labels = _as_arrays(gts, with_scores=False)
        p_label_arr, g_label_arr = np.array(p_labels, dtype=object), np.array(g_labels, dtype=object)
        for label in set(p_labels) | set(g_labels):
            p_idx = np.flatnonzero(p_label_arr == label) if p_labels else np.zeros(0, np.int64)
            g_idx = np.flatnonzero(g_label_arr == label) if g_labels else np.zeros(0, np.int64)
            entry = per_class.setdefault(label, _Matches())
            entry.ground_truth += len(g_idx)
            order, matched = _match_image(p_boxes[p_idx], p_scores[p_idx], g_boxes[g_idx], IOU_THRESHOLDS)
            keep = order[:max_det]  # COCO caps detections per image and class after sorting by score
            entry.scores.append(p_scores[p_idx][keep])
            entry.matched.append(matched[:, :max_det])
            # Precision/recall at the operating threshold: match only the detections a user would see.
            shown = p_idx[p_scores[p_idx] >= score_threshold]
            _, shown_matched = _match_image(p_boxes[shown], p_scores[shown], g_boxes[g_idx], at_half)
            tp += int(shown_matched.sum())
            fp += int(len(shown) - shown_matched.sum())
        counted = [s >= score_threshold and (count_label is None or lab == count_label)
                   for s, lab in zip(p_scores, p_labels, strict=True)]
        true_count = sum(1 for lab in g_labels if count_label is None or lab == count_label)
        count_errors.append(sum(counted) - true_count)
        n_gt += len(g_labels)
        n_pred += int((p_scores >= score_threshold).sum())
    class_aps: dict[str, ClassAP] = {}
    for label, entry in sorted(per_class.items()):
        if entry.ground_truth == 0:
            continue  # as COCO: a class nobody drew is not averaged in, whatever was predicted
        ap = _average_precision(entry.scores, entry.matched, entry.ground_truth)
        class_aps[label] = ClassAP(float(ap[0]), float(ap.mean()), entry.ground_truth)
    errors = np.array(count_errors, np.float64)
    return DetectionReport(
        images=len(count_errors),
        ground_truth=n_gt,
        predictions=n_pred,
        map50=float(np.mean([c.ap50 for c in class_aps.values()])) if class_aps else None,
        map50_95=float(np.mean([c.ap50_95 for c in class_aps.values()])) if class_aps else None,
        precision=tp / n_pred if n_pred else None,
        recall=tp / n_gt if n_gt else None,
        true_positives=tp,
        false_positives=fp,
        false_negatives=n_gt - tp,
        count_mae=float(np.abs(errors).mean()) if errors.size else 0.0,
        count_bias=float(errors.mean()) if errors.size else 0.0,
        per_class=class_aps,
    )


def evaluate_detections(predictions: Sequence[Sequence[Detection]], truths: Sequence[Sequence[Truth]], *,
                        score_threshold: float = 0.25, max_det: int = COCO_MAX_DET,
                        count_label: str | None = None,
                        slices: Sequence[Mapping[str, str]] | None = None) -> DetectionReport:
    """Score a model on a dataset: one list of predictions and one of ground truth per image, same order.

    mAP uses every prediction (pass them at a low threshold, e.g. 0.001, as COCO does); precision, recall
    and the count error use those at or above `score_threshold`, the operating point. `count_label`
    restricts counting to one class (e.g. "person"). `slices` gives each image its slice keys, e.g.
    `{"site": "north", "lighting": "night", "crowd": crowd_bucket(n)}`; the report then carries one
    sub-report per key and value.
    """
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} prediction lists for {len(truths)} images")
    options: dict[str, Any] = {"score_threshold": score_threshold, "max_det": max_det, "count_label": count_label}
    report = _report(predictions, truths, **options)
    if slices is None:
        return report
    if len(slices) != len(truths):
        raise ValueError(f"{len(slices)} slice keys for {len(truths)} images")
    groups: dict[str, dict[str, list[int]]] = {}
    for i, keys in enumerate(slices):
        for dimension, value in keys.items():
            groups.setdefault(dimension, {}).setdefault(str(value), []).append(i)
    sliced = {
        dimension: {
            value: _report([predictions[i] for i in idx], [truths[i] for i in idx], **options)
            for value, idx in sorted(values.items())
        }
        for dimension, values in sorted(groups.items())
    }
    return DetectionReport(**{**report.__dict__, "slices": sliced})


# --- Drift: how far a camera's confidence distribution moved (DESIGN.md, "Drift") -------------------------

CONFIDENCE_BINS = 10
PSI_EPSILON = 1e-4


def confidence_histogram(scores: Sequence[float] | np.ndarray, bins: int = CONFIDENCE_BINS) -> np.ndarray:
    """Counts of box scores in `bins` equal-width bins over [0, 1]: bin i holds [i/bins, (i+1)/bins), the last
    also 1.0. Out-of-range scores are clipped. `floor(score * bins)` is the SQL the drift service runs on
    PostgreSQL, so both give the same bin to a score on a boundary."""
    values = np.clip(np.asarray(scores, np.float64), 0.0, 1.0)
    index = np.minimum(np.floor(values * bins).astype(np.int64), bins - 1)
    return np.bincount(index, minlength=bins).astype(np.int64)


def psi(expected_counts: Sequence[float] | np.ndarray, actual_counts: Sequence[float] | np.ndarray,
        eps: float = PSI_EPSILON) -> float:
    """Population stability index of `actual` against `expected` (two histograms over the same bins):
    sum over bins of (a − e)·ln(a / e) on proportions. 0 for identical shapes; above ~0.2 is usually read as a
    significant shift. A bin empty in one window takes proportion `eps`, so it adds a large, finite term
    instead of an infinite one. Both histograms must hold something (the caller checks minimum samples)."""
    expected = np.asarray(expected_counts, np.float64)
    actual = np.asarray(actual_counts, np.float64)
    if expected.shape != actual.shape or expected.ndim != 1:
        raise ValueError(f"histograms differ in shape: {expected.shape} vs {actual.shape}")
    if expected.sum() <= 0 or actual.sum() <= 0:
        raise ValueError("PSI needs two non-empty histograms")
    e = np.maximum(expected / expected.sum(), eps)
    a = np.maximum(actual / actual.sum(), eps)
    return float(np.sum((a - e) * np.log(a / e)))
