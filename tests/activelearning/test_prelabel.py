"""The pre-labeler (activelearning/registry/detector.py): a hand-built ONNX head end to end, the session cache, and the
committed demo detector on held-out synthetic scenes. No database."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import activelearning
from activelearning.metrics import evaluate_detections
from activelearning.registry.detector import (
    Detector,
    ImageUnreadable,
    ModelHashMismatch,
    ModelUnsupported,
    clear_detector_cache,
    detector_for,
    jpeg_size,
    parse_names,
)
from loupe_synthetic.scenes import encode_jpeg, render_scene

DEMO = Path(activelearning.__file__).resolve().parent / "demo" / "people-detector.onnx"


def fixed_head_model(head: np.ndarray, *, imgsz: int = 320, metadata: dict[str, str] | None = None) -> bytes:
    """An ONNX model whose output is `head` whatever the image (plus 0 × its mean, so the input is used)."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
            helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
            helper.make_node("Add", ["head", "nothing"], ["output0"]),
        ],
        "fixed_head",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(head.shape))],
        initializer=[numpy_helper.from_array(head.astype(np.float32), "head"),
                     numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata if metadata is not None else {"names": "{0: 'person'}"}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def one_class_head(*candidates: tuple[float, float, float, float, float], n: int = 2100) -> np.ndarray:
    """`[1, 5, n]`: the given (cx, cy, w, h, score) candidates in input pixels, the rest empty."""
    head = np.zeros((1, 5, n), np.float32)
    head[0, :4, :] = 10.0
    for i, candidate in enumerate(candidates):
        head[0, :, 7 + 13 * i] = candidate
    return head


def drawn_jpeg(width: int = 640, height: int = 360) -> bytes:
    image = np.full((height, width, 3), 90, np.uint8)
    cv2.rectangle(image, (160, 20), (240, 180), (40, 200, 40), -1)
    cv2.circle(image, (200, 40), 15, (180, 200, 230), -1)
    return encode_jpeg(image)


def test_detect_maps_the_head_boxes_back_to_the_original_pixels() -> None:
    # 640×360 → 320×320: scale 0.5, 70 px of grey above and below.
    head = one_class_head((100, 120, 40, 80, 0.9), (102, 121, 40, 80, 0.8), (250, 160, 20, 20, 0.1),
                          (300, 200, 30, 60, 0.6))
    detector = Detector(fixed_head_model(head), conf_threshold=0.25)
    found, times = detector.detect_timed(drawn_jpeg())
    assert found == [
        {"label": "person", "score": 0.9, "box": [160.0, 20.0, 80.0, 160.0]},  # the 0.8 duplicate is suppressed
        {"label": "person", "score": 0.6, "box": [570.0, 200.0, 60.0, 120.0]},
    ]
    assert times.decode_ms > 0 and times.inference_ms > 0 and times.total_ms >= times.inference_ms


def test_boxes_are_clipped_to_the_image_and_thresholds_can_be_overridden_per_call() -> None:
    head = one_class_head((10, 80, 40, 40, 0.9), (250, 160, 20, 20, 0.1))
    detector = Detector(fixed_head_model(head))
    image = cv2.imdecode(np.frombuffer(drawn_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    assert detector.detect(image) == [{"label": "person", "score": 0.9, "box": [0.0, 0.0, 60.0, 60.0]}]
    assert len(detector.detect(image, conf_threshold=0.05)) == 2


@pytest.mark.parametrize(("width", "height", "factor"), [(640, 360, 2), (1280, 720, 4), (1920, 1080, 4),
                                                         (2400, 1400, 4), (2600, 1400, 8), (500, 300, 1)])
def test_large_jpegs_decode_reduced_and_boxes_still_land_in_original_pixels(width: int, height: int,
                                                                            factor: int) -> None:
    head = one_class_head((100, 120, 40, 80, 0.9))
    reduced = Detector(fixed_head_model(head))
    full = Detector(fixed_head_model(head), reduced_decode=False)
    jpeg = drawn_jpeg(width, height)
    pixels, got_factor, w, h = reduced.decode_for_input(jpeg)
    assert (got_factor, w, h) == (factor, width, height)
    assert pixels.shape[:2] == (-(-height // factor), -(-width // factor))
    assert max(pixels.shape[:2]) >= 320  # never decoded below the network input
    np.testing.assert_allclose(reduced.detect(jpeg)[0]["box"], full.detect(jpeg)[0]["box"], atol=factor)


def with_exif_rotation(jpeg: bytes) -> bytes:
    """The JPEG with an EXIF APP1 segment saying "rotate 90° clockwise to display" (orientation 6)."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + b"\x00" * 4
    body = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def test_an_exif_rotated_jpeg_gets_boxes_in_the_frame_as_displayed() -> None:
    jpeg = with_exif_rotation(drawn_jpeg(640, 360))
    head = one_class_head((160, 100, 40, 80, 0.9))
    reduced = Detector(fixed_head_model(head))
    pixels, factor, width, height = reduced.decode_for_input(jpeg)
    assert (width, height) == (360, 640) and pixels.shape[:2] == (320, 180) and factor == 2
    full = Detector(fixed_head_model(head), reduced_decode=False)
    assert reduced.detect(jpeg) == full.detect(jpeg)
    x, y, w, h = reduced.detect(jpeg)[0]["box"]
    assert x + w <= 360 and y + h <= 640


def test_jpeg_size_reads_the_frame_header_of_baseline_and_progressive_jpegs() -> None:
    image = np.zeros((123, 457, 3), np.uint8)
    assert jpeg_size(encode_jpeg(image)) == (457, 123)
    ok, progressive = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok and jpeg_size(progressive.tobytes()) == (457, 123)
    ok, png = cv2.imencode(".png", image)
    assert ok and jpeg_size(png.tobytes()) is None
    assert jpeg_size(b"\xff\xd8\xff") is None


def test_a_portrait_frame_is_padded_left_and_right() -> None:
    head = one_class_head((160, 160, 20, 40, 0.7))
    found = Detector(fixed_head_model(head)).detect(drawn_jpeg(width=180, height=320))
    assert found[0]["box"] == [80.0, 140.0, 20.0, 40.0]  # pad_x = (320 - 180) / 2 = 70; scale 1


def test_class_names_come_from_json_metadata_or_are_declared() -> None:
    head = np.zeros((1, 6, 100), np.float32)
    head[0, :, 5] = [100, 100, 20, 20, 0.1, 0.9]
    model = fixed_head_model(head, metadata={"names": '{"0": "person", "1": "trolley"}', "imgsz": "[320, 320]"})
    assert Detector(model).detect(drawn_jpeg())[0]["label"] == "trolley"
    declared = Detector(model, class_names=["adult", "child"])
    assert declared.class_names == ("adult", "child")
    assert declared.detect(drawn_jpeg())[0]["label"] == "child"


def test_a_model_without_names_or_with_the_wrong_head_is_refused() -> None:
    with pytest.raises(ModelUnsupported, match="names"):
        Detector(fixed_head_model(one_class_head(), metadata={}))
    with pytest.raises(ModelUnsupported, match="4 \\+ 2"):
        Detector(fixed_head_model(one_class_head()), class_names=["a", "b"])
    assert parse_names("['person', 'bag']") == ("person", "bag")
    with pytest.raises(ModelUnsupported):
        parse_names("{1: 'person'}")


def test_bytes_that_are_not_an_image_are_refused() -> None:
    with pytest.raises(ImageUnreadable):
        Detector(fixed_head_model(one_class_head())).detect(b"not a jpeg")


def test_detector_for_loads_each_version_once_per_process_and_checks_its_hash(tmp_path: Path) -> None:
    clear_detector_cache()
    path = tmp_path / "model.onnx"
    path.write_bytes(fixed_head_model(one_class_head((100, 120, 40, 80, 0.9))))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    got: list[Detector] = []
    threads = [threading.Thread(target=lambda: got.append(detector_for(path, sha))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(got) == 8 and all(d is got[0] for d in got)
    with pytest.raises(ModelHashMismatch):
        detector_for(path, "0" * 64)
    clear_detector_cache()
    assert detector_for(path, sha) is not got[0]
    clear_detector_cache()


def test_the_demo_detector_finds_the_people_in_held_out_scenes() -> None:
    card = json.loads(DEMO.with_suffix(".json").read_text())
    assert hashlib.sha256(DEMO.read_bytes()).hexdigest() == card["sha256"]
    threshold = card["operating_point"]["score_threshold"]
    detector = Detector(DEMO)
    assert detector.class_names == ("person",) and detector.imgsz == 320
    predictions, truths = [], []
    for seed in (3, 10, 17, 24, 31, 38):  # held-out seeds (training draws from 1,000,000 up)
        scene = render_scene("store" if seed % 2 == 0 else "bus", seed, layout=seed % 8)
        predictions.append(detector.detect(encode_jpeg(scene.image), conf_threshold=threshold))
        truths.append([b.as_dict() for b in scene.boxes])
    report = evaluate_detections(predictions, truths, score_threshold=threshold)
    assert report.ground_truth > 20
    assert report.recall is not None and report.recall >= 0.8  # 0.91 when the model was committed
    assert report.precision is not None and report.precision >= 0.6  # 0.71
