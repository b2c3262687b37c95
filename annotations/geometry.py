"""Box geometry for agreement and diffs. Pure: lists of [x, y, w, h] in, numbers out (numpy + scipy)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

Box = Sequence[float]


def clip_to_image(box: Box, width: int, height: int) -> list[float] | None:
    """The one rule for a box and its image, at device ingest, submit, QA fixes and imports: a box wholly inside
    is kept exactly; one overlapping an edge is clipped to the image (2 decimals); one with no area inside the
    image (or none at all) is None, for the caller to refuse. So every export agrees on every box."""
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        return None
    if x >= 0 and y >= 0 and x + w <= width and y + h <= height:
        return [x, y, w, h]
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def clip_boxes(boxes: Sequence[Mapping[str, Any]], width: int | None, height: int | None
               ) -> tuple[list[dict[str, Any]], list[int]]:
    """`boxes` ({"box": [x, y, w, h], …}) with each box clipped to the image, and the indexes of those that lie
    outside it. An asset of unknown size (never probed) keeps its boxes as they are."""
    if not width or not height:
        return [dict(b) for b in boxes], []
    kept, outside = [], []
    for i, b in enumerate(boxes):
        clipped = clip_to_image(b["box"], width, height)
        if clipped is None:
            outside.append(i)
        else:
            kept.append({**b, "box": clipped})
    return kept, outside


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """Pairwise intersection-over-union of [x, y, w, h] boxes, shape (len(a), len(b))."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    aa, bb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ax0, ay0, ax1, ay1 = aa[:, 0:1], aa[:, 1:2], aa[:, 0:1] + aa[:, 2:3], aa[:, 1:2] + aa[:, 3:4]
    bx0, by0, bx1, by1 = bb[:, 0], bb[:, 1], bb[:, 0] + bb[:, 2], bb[:, 1] + bb[:, 3]
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * \
        np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    union = aa[:, 2:3] * aa[:, 3:4] + bb[:, 2] * bb[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(a: Sequence[Box], b: Sequence[Box], *, iou_threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """One-to-one matches (i, j, iou) with the best total IoU (Hungarian), keeping pairs at or over the threshold."""
    ious = iou_matrix(a, b)
    if ious.size == 0:
        return []
    rows, cols = linear_sum_assignment(-ious)
    return [(int(i), int(j), float(ious[i, j])) for i, j in zip(rows, cols, strict=True)
            if ious[i, j] >= iou_threshold]


def box_agreement(a: Sequence[Box], b: Sequence[Box], *, iou_threshold: float = 0.5) -> float:
    """F1 of the matched boxes: 1.0 when both sets agree (or are both empty), 0.0 when nothing matches."""
    if not len(a) and not len(b):
        return 1.0
    return 2 * len(match_boxes(a, b, iou_threshold=iou_threshold)) / (len(a) + len(b))


def box_diff(before: Sequence[Box], after: Sequence[Box], *, moved_below: float = 0.95) -> dict[str, int]:
    """How a person changed the pre-label: boxes added, removed, and moved (matched but IoU < moved_below)."""
    matches = match_boxes(before, after)
    return {
        "added": len(after) - len(matches),
        "removed": len(before) - len(matches),
        "moved": sum(1 for _, _, iou in matches if iou < moved_below),
        "kept": sum(1 for _, _, iou in matches if iou >= moved_below),
    }


MOVED_PIXELS = 0.5  # a coordinate that changed by more than this (after the editor's rounding) moved


def prelabel_diff(prelabels: Sequence[Mapping[str, Any]], boxes: Sequence[Mapping[str, Any]], *,
                  threshold: float) -> dict[str, int]:
    """What a person did with the model's pre-label, honestly (DESIGN.md, "Review").

    Pre-labels scoring at least `threshold` are the person's starting boxes: each is `kept` (unchanged),
    `moved` and/or `relabelled`, or `deleted`. Those below are suggestions: `suggestions_accepted` or
    `suggestions_left`. A box names the pre-label it started from by `prelabel_index`; boxes that name none
    (API clients that do not send it) are matched by IoU ≥ 0.5, same frame and label first, to the pre-labels
    nobody named; what is left is `added`. `removed` (= deleted) is kept for older readers.
    """
    named = {b["prelabel_index"]: b for b in boxes if b.get("prelabel_index") is not None}
    unnamed = [b for b in boxes if b.get("prelabel_index") is None]
    free = [i for i in range(len(prelabels)) if i not in named]
    for frame in {b.get("frame_index") for b in unnamed}:
        mine = [b for b in unnamed if b.get("frame_index") == frame]
        candidates = [i for i in free if prelabels[i].get("frame_index") == frame]
        for i, j, _ in match_boxes([prelabels[i]["box"] for i in candidates], [b["box"] for b in mine]):
            named[candidates[i]] = mine[j]
    out = dict.fromkeys(("kept", "moved", "relabelled", "deleted", "added", "suggestions_accepted",
                         "suggestions_left"), 0)
    out["added"] = len(boxes) - len(named)
    for i, pre in enumerate(prelabels):
        box = named.get(i)
        starting = float(pre.get("score", 1.0)) >= threshold
        if box is None:
            out["deleted" if starting else "suggestions_left"] += 1
            continue
        if not starting:
            out["suggestions_accepted"] += 1
            continue
        moved = any(abs(float(a) - float(b)) > MOVED_PIXELS for a, b in zip(pre["box"], box["box"], strict=True))
        relabelled = str(pre["label"]) != str(box["label"])
        out["moved"] += moved
        out["relabelled"] += relabelled
        out["kept"] += not (moved or relabelled)
    out["removed"] = out["deleted"]
    return out


def starting_boxes(prelabels: Sequence[Mapping[str, Any]], *, threshold: float) -> list[dict[str, Any]]:
    """The model's boxes a person starts from (score at least `threshold`), as annotation boxes with their
    `prelabel_index`: what "Model was right" stores."""
    keep = ("label", "box", "frame_index", "track_id")
    return [{**{k: pre[k] for k in keep if pre.get(k) is not None}, "prelabel_index": i}
            for i, pre in enumerate(prelabels) if float(pre.get("score", 1.0)) >= threshold]


def is_correction(diff: Mapping[str, Any] | None) -> bool:
    """Whether an annotation's diff (prelabel_diff plus `count_change`) changed the model's answer: a box
    added, removed, moved or relabelled, a suggestion accepted, or the count changed. The one definition of
    a "correction" (dashboards, drift)."""
    if not diff:
        return False
    return any(diff.get(key) for key in ("added", "removed", "moved", "relabelled", "suggestions_accepted",
                                         "count_change"))


def consolidate(versions: Sequence[Sequence[Mapping[str, Any]]], *, min_votes: int,
                iou_threshold: float = 0.5) -> tuple[list[dict[str, Any]], list[int]]:
    """The consensus of several annotators' boxes (each version one annotator's `{"label", "box", …}` list).

    Per frame and label, each version's boxes are matched one to one (Hungarian, IoU ≥ threshold) to the
    clusters built from the versions before it; a box that matches none starts a cluster. A cluster that at
    least `min_votes` annotators drew becomes one box at the coordinate-wise median of its members' corners
    (robust to one annotator's sloppy edge); the others are dropped. Returns the boxes, in a stable order
    (frame, label, position), and each kept box's number of votes.
    """
    keys = {(box.get("frame_index"), str(box["label"])) for boxes in versions for box in boxes}
    kept: list[tuple[tuple[int, str, float, float], dict[str, Any], int]] = []
    for frame, label in keys:
        clusters: list[list[Mapping[str, Any]]] = []
        for boxes in versions:
            mine = [b for b in boxes if b.get("frame_index") == frame and str(b["label"]) == label]
            centres = [_median_box(c) for c in clusters]
            matched = match_boxes(centres, [b["box"] for b in mine], iou_threshold=iou_threshold)
            for i, j, _ in matched:
                clusters[i].append(mine[j])
            taken = {j for _, j, _ in matched}
            clusters.extend([b] for j, b in enumerate(mine) if j not in taken)
        for members in clusters:
            if len(members) < min_votes:
                continue
            box = [round(v, 2) for v in _median_box(members)]
            out: dict[str, Any] = {"label": label, "box": box}
            if frame is not None:
                out["frame_index"] = frame
            track = next((m["track_id"] for m in members if m.get("track_id") is not None), None)
            if track is not None:
                out["track_id"] = track
            kept.append(((frame or 0, label, box[1], box[0]), out, len(members)))
    kept.sort(key=lambda k: k[0])
    return [k[1] for k in kept], [k[2] for k in kept]


def _median_box(members: Sequence[Mapping[str, Any]]) -> list[float]:
    """[x, y, w, h] of the coordinate-wise median corners of the members' boxes."""
    corners = np.array([[x, y, x + w, y + h] for x, y, w, h in (m["box"] for m in members)], dtype=float)
    x0, y0, x1, y1 = np.median(corners, axis=0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
