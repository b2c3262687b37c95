"""Box maths for detectors: moved to the framework-free `loupe_vision.geometry` (the device's camera loop runs
the same detector); re-exported here for the server's callers."""

from loupe_vision.geometry import (
    LETTERBOX_GREY,
    NMS_BLOCK,
    FloatArray,
    IntArray,
    box_iou,
    cxcywh_to_xyxy,
    decode_yolo,
    letterbox,
    nms,
    unletterbox,
    xywh_to_xyxy,
    xyxy_to_xywh,
)

__all__ = ["LETTERBOX_GREY", "NMS_BLOCK", "FloatArray", "IntArray", "box_iou", "cxcywh_to_xyxy", "decode_yolo",
           "letterbox", "nms", "unletterbox", "xywh_to_xyxy", "xyxy_to_xywh"]
