"""Box maths for detectors: letterbox, YOLO output decoding, class-aware NMS, and the way back to pixels.

Pure (numpy + OpenCV, no Django): the server and the device share it. Boxes are float arrays `[N, 4]` of `x1, y1, x2, y2` in pixels unless a name says otherwise; the API and
the database store `[x, y, w, h]` lists (see `xyxy_to_xywh`).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

LETTERBOX_GREY = 114  # the padding value Ultralytics trains and exports with
NMS_BLOCK = 256  # boxes resolved together; a block's IoU matrix is 256² floats (256 kB), cache-sized


def letterbox(image_bgr: np.ndarray, size: int) -> tuple[FloatArray, float, float, float]:
    """Fit a BGR image into a `size`×`size` square keeping its aspect, pad with grey as Ultralytics does.

    Returns the network input (`float32 [1, 3, size, size]`, RGB, 0..1), the scale applied to the image,
    and the left and top padding in input pixels: input = original × scale + pad.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected a BGR image of shape (h, w, 3), got {image_bgr.shape}")
    height, width = image_bgr.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = round(width * scale), round(height * scale)
    # Ultralytics splits an odd padding with a -0.1 nudge (the extra pixel goes below/right); matching it
    # keeps boxes identical.
    top, left = round((size - new_h) / 2 - 0.1), round((size - new_w) / 2 - 0.1)
    resized = image_bgr if (new_w, new_h) == (width, height) else cv2.resize(
        image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    # One pass: BGR→RGB and HWC→CHW are views, the scaling to 0..1 writes straight into the padded tensor
    # (padding with copyMakeBorder first and converting the whole square costs about 40 % more).
    tensor = np.full((1, 3, size, size), LETTERBOX_GREY / 255.0, np.float32)
    np.multiply(resized[..., ::-1].transpose(2, 0, 1), np.float32(1.0 / 255.0),
                out=tensor[0, :, top : top + new_h, left : left + new_w], casting="unsafe")
    return tensor, scale, float(left), float(top)


def cxcywh_to_xyxy(boxes: np.ndarray) -> FloatArray:
    """Centre/size boxes `[N, 4]` to corner boxes."""
    out = np.empty(boxes.shape, np.float32)
    half_w, half_h = boxes[:, 2] / 2, boxes[:, 3] / 2
    out[:, 0] = boxes[:, 0] - half_w
    out[:, 1] = boxes[:, 1] - half_h
    out[:, 2] = boxes[:, 0] + half_w
    out[:, 3] = boxes[:, 1] + half_h
    return out


def decode_yolo(output: np.ndarray, *, conf_threshold: float,
                num_classes: int) -> tuple[FloatArray, FloatArray, IntArray]:
    """Read an Ultralytics YOLOv8/11 head, `[1, 4 + C, N]`: cx, cy, w, h in input pixels, then C class scores.

    There is no objectness: a candidate's score is its best class score. Returns the candidates whose score
    is at least `conf_threshold` as (boxes xyxy `[K, 4]`, scores `[K]`, classes `[K]`), in anchor order.
    """
    preds = output[0] if output.ndim == 3 else output
    if preds.ndim != 2 or preds.shape[0] != 4 + num_classes:
        raise ValueError(f"expected output [1, {4 + num_classes}, N], got {output.shape}")
    class_scores = preds[4:]
    if num_classes == 1:
        best = class_scores[0]
        mask = best >= conf_threshold
        classes = np.zeros(int(mask.sum()), np.int64)
    else:
        best = class_scores.max(axis=0)
        mask = best >= conf_threshold
        classes = class_scores[:, mask].argmax(axis=0).astype(np.int64)
    boxes = cxcywh_to_xyxy(preds[:4, mask].T)
    return boxes, best[mask].astype(np.float32), classes


def box_iou(a: np.ndarray, b: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """Pairwise IoU of xyxy boxes: `[N, 4]` × `[M, 4]` → `[N, M]` (0 where a box has no area).

    float32 by default (NMS); metrics ask for float64 so a match at exactly the threshold is decided as
    pycocotools decides it.
    """
    a = np.asarray(a, dtype).reshape(-1, 4)
    b = np.asarray(b, dtype).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    iw = (np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])).clip(0)
    ih = (np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])).clip(0)
    inter = iw * ih
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _overlaps(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> np.ndarray:
    """`[N, M]` bool "IoU > t" between boxes held as columns (x1, y1, x2, y2, area × t/(1+t)).

    IoU > t ⇔ inter > t/(1+t)·(A + B): no division. One clamp suffices: a negative height makes the product
    ≤ 0 whatever the width, and that never beats the non-negative right side.
    """
    ax1, ay1, ax2, ay2, a_area = (col[:, None] for col in a)
    bx1, by1, bx2, by2, b_area = (col[None, :] for col in b)
    width = np.minimum(ax2, bx2)
    width -= np.maximum(ax1, bx1)
    np.maximum(width, 0, out=width)
    height = np.minimum(ay2, by2)
    height -= np.maximum(ay1, by1)
    width *= height  # the intersection, ≤ 0 when the boxes do not meet
    return width > a_area + b_area


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, *, iou_threshold: float,
        max_det: int) -> IntArray:
    """Greedy class-aware non-maximum suppression; returns the indices kept, best score first.

    The result is exactly that of the classic loop (highest score wins, a box is dropped when its IoU with a
    kept box of the same class is above `iou_threshold`), computed in blocks of `NMS_BLOCK` boxes so Python
    runs a few numpy calls per block instead of one per box: a block first loses what the boxes kept so far
    overlap, then is resolved inside itself, and the loop stops as soon as `max_det` are kept. Classes are
    kept apart by shifting each class's boxes to their own region of the plane (the offset trick). Ties in
    score keep input order.
    """
    n = len(scores)
    if n == 0 or max_det <= 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
    shifted = np.asarray(boxes, np.float32)[order]
    cls = np.asarray(classes)[order]
    if cls.size and cls.max() != cls.min():
        span = float(np.abs(shifted).max()) * 2 + 1
        shifted = shifted + (cls.astype(np.float32) * span)[:, None]
    x1, y1, x2, y2 = (np.ascontiguousarray(shifted[:, i]) for i in range(4))
    area = (x2 - x1).clip(0) * (y2 - y1).clip(0) * np.float32(iou_threshold / (1 + iou_threshold))
    columns = (x1, y1, x2, y2, area)
    limit = min(max_det, n)
    kept = np.empty(limit, np.int64)
    kept_columns = tuple(np.empty(limit, np.float32) for _ in columns)
    count = 0
    for start in range(0, n, NMS_BLOCK):
        stop = min(start + NMS_BLOCK, n)
        block = tuple(col[start:stop] for col in columns)
        survivors: np.ndarray = np.arange(stop - start)
        if count:
            alive = ~_overlaps(block, tuple(col[:count] for col in kept_columns)).any(axis=1)
            survivors = survivors[alive]
            if survivors.size == 0:
                continue
            block = tuple(col[alive] for col in block)
        # Greedy inside the block on its overlap matrix: only rows that overlap a later box can suppress,
        # and only while they are themselves kept, so Python visits those rows and numpy does each row.
        over = np.triu(_overlaps(block, block), k=1)
        keep = np.ones(survivors.size, bool)
        for i in np.flatnonzero(over.any(axis=1)).tolist():
            if keep[i]:
                keep &= ~over[i]
        winners = survivors[keep][: limit - count] + start
        kept[count : count + winners.size] = winners
        for target, col in zip(kept_columns, columns, strict=True):
            target[count : count + winners.size] = col[winners]
        count += winners.size
        if count == limit:
            break
    result: IntArray = order[kept[:count]]
    return result


def unletterbox(boxes: np.ndarray, scale: float, pad_x: float, pad_y: float, width: int,
                height: int) -> FloatArray:
    """Map xyxy boxes from network-input pixels back to the original `width`×`height` image, clipped to it."""
    out = np.empty((len(boxes), 4), np.float32)
    out[:, [0, 2]] = (np.asarray(boxes)[:, [0, 2]] - pad_x) / scale
    out[:, [1, 3]] = (np.asarray(boxes)[:, [1, 3]] - pad_y) / scale
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def xyxy_to_xywh(boxes: np.ndarray, ndigits: int = 2) -> list[list[float]]:
    """Corner boxes to the `[x, y, w, h]` lists the API stores, rounded to `ndigits` (sub-pixel is noise)."""
    arr = np.asarray(boxes, np.float64).reshape(-1, 4)
    xywh = np.column_stack([arr[:, 0], arr[:, 1], arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1]])
    return np.round(xywh, ndigits).tolist()  # type: ignore[no-any-return]


def xywh_to_xyxy(boxes: np.ndarray | list[list[float]]) -> FloatArray:
    """`[x, y, w, h]` boxes to corner boxes `[N, 4]`."""
    arr = np.asarray(boxes, np.float32).reshape(-1, 4)
    out = arr.copy()
    out[:, 2] += arr[:, 0]
    out[:, 3] += arr[:, 1]
    return out
