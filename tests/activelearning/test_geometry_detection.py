"""Letterbox, YOLO decoding, NMS and the way back to pixels (loupe_vision/geometry.py): pure, no database."""

from __future__ import annotations

import numpy as np
import pytest

from loupe_vision.geometry import (
    LETTERBOX_GREY,
    box_iou,
    cxcywh_to_xyxy,
    decode_yolo,
    letterbox,
    nms,
    unletterbox,
    xywh_to_xyxy,
    xyxy_to_xywh,
)


def reference_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float,
                  max_det: int) -> list[int]:
    """The textbook greedy loop in plain Python: what `nms` must reproduce exactly."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))  # sorted() is stable: ties keep order
    keep: list[int] = []
    suppressed = [False] * len(scores)
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) == max_det:
            break
        for j in order[rank + 1 :]:
            if suppressed[j] or classes[j] != classes[i]:
                continue
            x1, y1 = max(boxes[i][0], boxes[j][0]), max(boxes[i][1], boxes[j][1])
            x2, y2 = min(boxes[i][2], boxes[j][2]), min(boxes[i][3], boxes[j][3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            area_i = (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1])
            area_j = (boxes[j][2] - boxes[j][0]) * (boxes[j][3] - boxes[j][1])
            union = area_i + area_j - inter
            if union > 0 and inter / union > iou_threshold:
                suppressed[j] = True
    return keep


def random_boxes(rng: np.random.Generator, n: int, size: float = 640.0) -> np.ndarray:
    centre = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(8, 160, (n, 2))
    return np.concatenate([centre - wh / 2, centre + wh / 2], 1).astype(np.float32)


def clustered_boxes(rng: np.random.Generator, n: int, objects: int) -> np.ndarray:
    """Many jittered copies around a few objects, as a detector's raw candidates look."""
    base = random_boxes(rng, objects)
    picks = base[rng.integers(0, objects, n)]
    wh = (picks[:, 2:] - picks[:, :2]).repeat(2, axis=1)
    return (picks + rng.normal(0, 0.08, (n, 4)) * wh).astype(np.float32)


# --- letterbox ----------------------------------------------------------------------------------


def test_letterbox_of_a_wide_frame_pads_top_and_bottom_with_grey_and_returns_rgb_0_to_1() -> None:
    image = np.zeros((360, 640, 3), np.uint8)
    image[..., 2] = 255  # pure red in BGR
    tensor, scale, pad_x, pad_y = letterbox(image, 320)
    assert tensor.shape == (1, 3, 320, 320) and tensor.dtype == np.float32
    assert scale == 0.5 and pad_x == 0 and pad_y == 70
    assert tensor[0, :, 0, 0] == pytest.approx([LETTERBOX_GREY / 255] * 3)  # the pad
    assert tensor[0, :, 160, 160] == pytest.approx([1.0, 0.0, 0.0])  # red lands in channel 0 (RGB)
    assert tensor[0, :, 69, 160] == pytest.approx([LETTERBOX_GREY / 255] * 3)
    assert tensor[0, :, 70, 160] == pytest.approx([1.0, 0.0, 0.0])


def test_letterbox_splits_an_odd_padding_as_ultralytics_does() -> None:
    tensor, scale, pad_x, pad_y = letterbox(np.zeros((101, 320, 3), np.uint8), 320)
    assert scale == 1.0 and pad_x == 0
    assert pad_y == 109  # (320 - 101) / 2 = 109.5: 109 above, 110 below
    assert tensor.shape == (1, 3, 320, 320)


@pytest.mark.parametrize(("height", "width"), [(360, 640), (480, 640), (720, 1280), (640, 360), (300, 300)])
def test_boxes_survive_a_letterbox_round_trip(height: int, width: int) -> None:
    rng = np.random.default_rng(height * width)
    xy = rng.uniform(0, [width * 0.8, height * 0.8], (20, 2))
    wh = rng.uniform(5, [width * 0.2, height * 0.2], (20, 2))
    original = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    _, scale, pad_x, pad_y = letterbox(np.zeros((height, width, 3), np.uint8), 320)
    in_input = original * scale + np.array([pad_x, pad_y, pad_x, pad_y], np.float32)
    assert in_input.min() >= 0 and in_input.max() <= 320
    back = unletterbox(in_input, scale, pad_x, pad_y, width, height)
    np.testing.assert_allclose(back, original, atol=1e-3)


def test_unletterbox_clips_boxes_to_the_original_image() -> None:
    boxes = np.array([[-10.0, 60.0, 400.0, 300.0]], np.float32)  # spills into the pad and past the edge
    back = unletterbox(boxes, 0.5, 0.0, 70.0, 640, 360)
    np.testing.assert_allclose(back, [[0.0, 0.0, 640.0, 360.0]])


def test_xywh_lists_round_trip() -> None:
    xyxy = np.array([[10.0, 20.0, 40.5, 80.25]])
    assert xyxy_to_xywh(xyxy) == [[10.0, 20.0, 30.5, 60.25]]
    np.testing.assert_allclose(xywh_to_xyxy([[10.0, 20.0, 30.5, 60.25]]), xyxy)
    assert xyxy_to_xywh(np.zeros((0, 4))) == []


# --- decode -------------------------------------------------------------------------------------


def test_decode_reads_centre_size_boxes_and_the_best_class_without_objectness() -> None:
    # Four candidates, three classes: columns are candidates, rows cx, cy, w, h, then class scores.
    output = np.array([[
        [100, 200, 50, 10],
        [100, 100, 50, 10],
        [20, 40, 10, 4],
        [40, 20, 10, 4],
        [0.9, 0.1, 0.05, 0.2],
        [0.05, 0.7, 0.1, 0.2],
        [0.0, 0.2, 0.3, 0.2],
    ]], np.float32)
    boxes, scores, classes = decode_yolo(output, conf_threshold=0.25, num_classes=3)
    np.testing.assert_allclose(boxes, [[90, 80, 110, 120], [180, 90, 220, 110], [45, 45, 55, 55]])
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.3])
    assert classes.tolist() == [0, 1, 2]  # the fourth (best 0.2) is under the threshold


def test_decode_of_a_single_class_head_and_of_nothing_above_threshold() -> None:
    output = np.zeros((1, 5, 8400), np.float32)
    output[0, :4] = [[320], [320], [64], [128]]
    output[0, 4, 17] = 0.8
    boxes, scores, classes = decode_yolo(output, conf_threshold=0.5, num_classes=1)
    np.testing.assert_allclose(boxes, [[288, 256, 352, 384]])
    assert scores.tolist() == pytest.approx([0.8]) and classes.tolist() == [0]
    boxes, scores, classes = decode_yolo(output, conf_threshold=0.9, num_classes=1)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and classes.shape == (0,)


def test_decode_refuses_a_head_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\[1, 6, N\]"):
        decode_yolo(np.zeros((1, 5, 10), np.float32), conf_threshold=0.1, num_classes=2)


def test_cxcywh_to_xyxy() -> None:
    np.testing.assert_allclose(cxcywh_to_xyxy(np.array([[10, 10, 4, 6]], np.float32)), [[8, 7, 12, 13]])


# --- IoU and NMS --------------------------------------------------------------------------------


def test_box_iou_of_known_pairs() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0], [0.0, 0.0, 0.0]], rtol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes_and_distant_ones() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.8, 0.9, 0.3]), np.zeros(3, np.int64), iou_threshold=0.5, max_det=100)
    assert keep.tolist() == [1, 2]


def test_nms_does_not_let_one_class_suppress_another() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    keep = nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 1, 0]), iou_threshold=0.5, max_det=100)
    assert keep.tolist() == [0, 1]


def test_nms_of_nothing_and_max_det() -> None:
    assert nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), iou_threshold=0.5, max_det=10).tolist() == []
    boxes = random_boxes(np.random.default_rng(1), 50) * 0 + np.arange(50)[:, None] * 100  # all apart
    boxes[:, 2:] += 10
    keep = nms(boxes, np.linspace(1, 0.1, 50), np.zeros(50, np.int64), iou_threshold=0.5, max_det=7)
    assert keep.tolist() == list(range(7))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_the_reference_loop_on_random_boxes(seed: int, threshold: float) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 900))  # spans one block and several
    boxes = clustered_boxes(rng, n, objects=int(rng.integers(1, 40))) if seed % 2 else random_boxes(rng, n)
    scores = rng.random(n).astype(np.float32)
    scores[rng.random(n) < 0.05] = 0.5  # some exact ties: both must keep input order
    classes = rng.integers(0, 1 + seed % 3, n)  # one, two or three classes
    expected = reference_nms(boxes, scores, classes, threshold, max_det=10_000)
    assert nms(boxes, scores, classes, iou_threshold=threshold, max_det=10_000).tolist() == expected
    capped = reference_nms(boxes, scores, classes, threshold, max_det=30)
    assert nms(boxes, scores, classes, iou_threshold=threshold, max_det=30).tolist() == capped


def test_class_aware_nms_equals_nms_run_per_class() -> None:
    rng = np.random.default_rng(42)
    boxes = clustered_boxes(rng, 600, objects=12)
    scores = rng.random(600)
    classes = rng.integers(0, 4, 600)
    together = set(nms(boxes, scores, classes, iou_threshold=0.5, max_det=10_000).tolist())
    apart: set[int] = set()
    for c in range(4):
        idx = np.flatnonzero(classes == c)
        apart |= set(idx[nms(boxes[idx], scores[idx], classes[idx], iou_threshold=0.5, max_det=10_000)].tolist())
    assert together == apart
