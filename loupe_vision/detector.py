"""Run an ONNX detector on a frame: JPEG → letterbox → onnxruntime → decode → NMS → boxes in image pixels.

Pure (numpy + OpenCV + onnxruntime, no Django), so the Celery pre-label task, the shadow evaluation, the
benchmarks and the device's camera loop (edge/detector_child.py) share it. One `Detector` wraps one
`InferenceSession` (activelearning/registry/detector.py keeps one per model version per server process).
onnxruntime's `run` is thread-safe, and so is `Detector.detect`.

The model must have the Ultralytics YOLOv8/11 detect head, output `[1, 4 + C, N]` (see `geometry.decode_yolo`),
a static square input, and its class names either declared or in the ONNX metadata (`names`, as JSON or as
the Python dict literal Ultralytics writes).
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from loupe_vision.geometry import decode_yolo, letterbox, nms, unletterbox, xyxy_to_xywh

# Measured on the 2-vCPU box (docs/benchmarks.md, "Pre-labels"): a Celery worker process per core with one
# intra-op thread each gives the most frames per second; a lone worker can ask for 2 for lower latency.
DEFAULT_INTRA_OP_THREADS = 1
DEFAULT_CONF_THRESHOLD = 0.25
DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_MAX_DET = 300
# JPEG start-of-frame markers (baseline, progressive, …; not DHT C4, JPG C8, DAC CC): they carry the size.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_REDUCED_READS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))

Prelabel = dict[str, Any]  # {"label": str, "score": float, "box": [x, y, w, h]} in original image pixels


class ImageUnreadable(ValueError):
    """The bytes are not an image OpenCV can decode."""


class ModelUnsupported(ValueError):
    """The ONNX model does not have the input/output shape or metadata the pre-labeler needs."""


@dataclass(frozen=True)
class StageTimes:
    """Where one `detect` call spent its time, in milliseconds."""

    decode_ms: float  # JPEG → BGR pixels (0 when given pixels)
    letterbox_ms: float
    inference_ms: float  # session.run
    postprocess_ms: float  # decode_yolo + NMS + back to image pixels

    @property
    def total_ms(self) -> float:
        return self.decode_ms + self.letterbox_ms + self.inference_ms + self.postprocess_ms


def session_options(intra_op_threads: int = DEFAULT_INTRA_OP_THREADS) -> ort.SessionOptions:
    """CPU session options: all graph optimisations, `intra_op_threads` for a node, one thread between nodes."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    # Pool threads that spin after a run steal a core from the decode/NMS that follows (and from the other
    # worker process): measured in bench/prelabel.py, it only costs with intra_op_threads > 1.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _metadata_value(raw: str, what: str) -> Any:
    """A metadata value written as JSON or as a Python literal (Ultralytics writes `{0: 'person'}`); literals
    only, never code."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        try:
            return ast.literal_eval(raw)
        except (ValueError, SyntaxError) as exc:
            raise ModelUnsupported(f"cannot read {what} from metadata {raw[:80]!r}") from exc


def parse_names(raw: str) -> tuple[str, ...]:
    """Class names from ONNX metadata: JSON (`{"0": "person"}` or `["person"]`) or Ultralytics' `{0: 'person'}`."""
    return normalise_names(_metadata_value(raw, "class names"))


def normalise_names(value: Sequence[str] | Mapping[Any, str]) -> tuple[str, ...]:
    """Class names indexed by class id, from a list or a {id: name} mapping with ids 0..C-1."""
    if isinstance(value, Mapping):
        by_id = {int(k): str(v) for k, v in value.items()}
        if sorted(by_id) != list(range(len(by_id))):
            raise ModelUnsupported(f"class ids must be 0..{len(by_id) - 1}, got {sorted(by_id)}")
        return tuple(by_id[i] for i in range(len(by_id)))
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ModelUnsupported(f"class names must be a list or a mapping, got {type(value).__name__}")
    return tuple(str(v) for v in value)


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header without decoding it; None if `data` is not a JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i + 9 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in _SOF_MARKERS:
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _parse_imgsz(raw: str) -> int:
    """The input size from metadata: `320`, `[320, 320]` (JSON) or `(320, 320)` (a Python literal)."""
    value = _metadata_value(raw, "imgsz")
    sizes = [int(value)] if isinstance(value, int | float) else [int(v) for v in value]
    if len(set(sizes)) != 1:
        raise ModelUnsupported(f"only square inputs are supported, got imgsz {sizes}")
    return sizes[0]


class Detector:
    """One ONNX detector: decode, letterbox, run, decode the head, NMS, and map boxes back to the image.

    `model` is a path or the ONNX bytes. `class_names` and `imgsz` override what the model's metadata and
    input shape say (the registry declares both per model version). Thresholds given here are defaults that
    each `detect` call may override. `reduced_decode` lets large JPEGs decode at 1/2, 1/4 or 1/8 scale when
    that is still at least the input size (see `decode_for_input`).
    """

    def __init__(self, model: str | Path | bytes, *, class_names: Sequence[str] | Mapping[Any, str] | None = None,
                 imgsz: int | None = None, conf_threshold: float = DEFAULT_CONF_THRESHOLD,
                 iou_threshold: float = DEFAULT_IOU_THRESHOLD, max_det: int = DEFAULT_MAX_DET,
                 intra_op_threads: int = DEFAULT_INTRA_OP_THREADS, reduced_decode: bool = True) -> None:
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, sess_options=session_options(intra_op_threads),
                                            providers=["CPUExecutionProvider"])
        metadata = self.session.get_modelmeta().custom_metadata_map
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise ModelUnsupported(f"expected one input, got {len(inputs)}")
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        if class_names is not None:
            self.class_names = normalise_names(class_names)
        elif "names" in metadata:
            self.class_names = parse_names(metadata["names"])
        else:
            raise ModelUnsupported("the model has no `names` metadata; declare class_names")
        self.imgsz = imgsz or self._input_size(inputs[0].shape, metadata)
        channels = outputs[0].shape[1] if len(outputs[0].shape) == 3 else None
        if isinstance(channels, int) and channels != 4 + len(self.class_names):
            raise ModelUnsupported(f"output has {channels} rows, expected 4 + {len(self.class_names)} classes")
        self.conf_threshold, self.iou_threshold, self.max_det = conf_threshold, iou_threshold, max_det
        self.intra_op_threads = intra_op_threads
        self.reduced_decode = reduced_decode

    @staticmethod
    def _input_size(shape: Sequence[Any], metadata: Mapping[str, str]) -> int:
        if len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int):
            if shape[2] != shape[3]:
                raise ModelUnsupported(f"only square inputs are supported, got {shape}")
            return int(shape[2])
        if "imgsz" in metadata:
            return _parse_imgsz(metadata["imgsz"])
        raise ModelUnsupported(f"input shape {list(shape)} is dynamic and there is no `imgsz` metadata; declare imgsz")

    @staticmethod
    def decode_image(data: bytes) -> np.ndarray:
        """JPEG/PNG bytes → BGR uint8 pixels at full size."""
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ImageUnreadable("the bytes are not an image OpenCV can decode")
        return image

    def decode_for_input(self, data: bytes) -> tuple[np.ndarray, int, int, int]:
        """Decode bytes at the smallest JPEG scale (1/2, 1/4, 1/8) that is still at least the network input.

        libjpeg scales in the DCT, so a 640×360 frame for a 320 input decodes straight to 320×180 in about
        half the time, and letterbox has nothing left to resize. Returns (pixels, factor, original width,
        original height): reduced pixel x covers original pixels [factor·x, factor·x + factor).
        """
        size = jpeg_size(data) if self.reduced_decode else None
        if size is not None and min(size) > 0:
            width, height = size
            scale = min(self.imgsz / height, self.imgsz / width)
            for factor, flag in _REDUCED_READS:
                if factor * scale <= 1.0 + 1e-9:
                    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
                    if image is None:
                        raise ImageUnreadable("the bytes are not an image OpenCV can decode")
                    expected = (-(-height // factor), -(-width // factor))
                    if image.shape[:2] == expected:
                        return image, factor, width, height
                    if image.shape[:2] == expected[::-1]:  # OpenCV applied an EXIF rotation
                        return image, factor, height, width
                    break  # an unexpected size: decode in full rather than guess the mapping
        image = self.decode_image(data)
        return image, 1, image.shape[1], image.shape[0]

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """The raw head output for a prepared `[1, 3, S, S]` tensor (benchmarks and tests compare with it)."""
        output: np.ndarray = self.session.run([self.output_name], {self.input_name: tensor})[0]
        return output

    def detect(self, image: np.ndarray | bytes, *, conf_threshold: float | None = None,
               iou_threshold: float | None = None, max_det: int | None = None) -> list[Prelabel]:
        """Boxes for one frame (BGR pixels or encoded bytes), best score first, in the frame's pixels."""
        return self.detect_timed(image, conf_threshold=conf_threshold, iou_threshold=iou_threshold,
                                 max_det=max_det)[0]

    def detect_timed(self, image: np.ndarray | bytes, *, conf_threshold: float | None = None,
                     iou_threshold: float | None = None,
                     max_det: int | None = None) -> tuple[list[Prelabel], StageTimes]:
        """As `detect`, also returning how long each stage took."""
        t0 = time.perf_counter()
        if isinstance(image, bytes):
            pixels, factor, width, height = self.decode_for_input(image)
        else:
            pixels, factor, (height, width) = image, 1, image.shape[:2]
        t1 = time.perf_counter()
        tensor, scale, pad_x, pad_y = letterbox(pixels, self.imgsz)
        t2 = time.perf_counter()
        output = self.run(tensor)
        t3 = time.perf_counter()
        boxes, scores, classes = decode_yolo(
            output, conf_threshold=self.conf_threshold if conf_threshold is None else conf_threshold,
            num_classes=len(self.class_names))
        keep = nms(boxes, scores, classes, iou_threshold=self.iou_threshold if iou_threshold is None else iou_threshold,
                   max_det=self.max_det if max_det is None else max_det)
        placed = unletterbox(boxes[keep], scale / factor, pad_x, pad_y, width, height)
        names = self.class_names
        found = [{"label": names[c], "score": round(float(s), 4), "box": box}
                 for c, s, box in zip(classes[keep].tolist(), scores[keep].tolist(), xyxy_to_xywh(placed),
                                      strict=True)]
        t4 = time.perf_counter()
        times = StageTimes((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3)
        return found, times
