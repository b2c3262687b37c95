"""The synthetic scene generator and field model: honest ground truth, determinism, and a detector that
struggles where real ones do."""

from __future__ import annotations

import statistics
from pathlib import Path

import cv2
import numpy as np
import pytest

import loupe_synthetic as synthetic
from loupe_synthetic import CountLine, GroundTruth, SceneMeta

KINDS = ("store", "bus")


def luma(image: np.ndarray) -> float:
    return float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).mean())


def assert_inside(boxes: list[GroundTruth], width: int, height: int) -> None:
    for gt in boxes:
        x, y, w, h = gt.box
        assert w > 0 and h > 0, gt
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, gt
        assert gt.label == "person"


@pytest.mark.parametrize("kind", KINDS)
def test_ground_truth_boxes_lie_inside_the_image(kind):
    for seed in range(12):
        frame = synthetic.render_scene(kind, seed, crowd=synthetic.MAX_CROWD if seed % 2 else None)
        assert frame.image.shape == (360, 640, 3) and frame.image.dtype == np.uint8
        assert_inside(frame.boxes, 640, 360)
        assert len({gt.track_id for gt in frame.boxes}) == len(frame.boxes)
        assert len(frame.boxes) <= frame.meta.crowd


@pytest.mark.parametrize("kind", KINDS)
def test_clip_ground_truth_boxes_lie_inside_the_image(kind):
    clip = synthetic.render_clip(kind, 3, seconds=2.0, fps=10)
    for boxes in clip.boxes:
        assert_inside(boxes, 640, 360)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_gives_identical_bytes(kind):
    first = synthetic.render_scene(kind, 42)
    again = synthetic.render_scene(kind, 42)
    assert synthetic.encode_jpeg(first.image) == synthetic.encode_jpeg(again.image)
    assert first.boxes == again.boxes and first.meta == again.meta
    assert synthetic.simulate_detections(first.boxes, first.meta, 7) == synthetic.simulate_detections(
        again.boxes, again.meta, 7)
    clip, clip_again = synthetic.render_clip(kind, 5, seconds=1.0), synthetic.render_clip(kind, 5, seconds=1.0)
    assert synthetic.encode_mp4(clip.frames, clip.fps) == synthetic.encode_mp4(clip_again.frames, clip_again.fps)


def test_different_seeds_give_different_scenes():
    assert synthetic.encode_jpeg(synthetic.render_scene("store", 1).image) != synthetic.encode_jpeg(
        synthetic.render_scene("store", 2).image)


@pytest.mark.parametrize("kind", KINDS)
def test_darker_lighting_gives_darker_frames(kind):
    mean_luma = {
        lighting: statistics.mean(luma(synthetic.render_scene(kind, seed, lighting=lighting, crowd=8).image)
                                  for seed in range(3))
        for lighting in synthetic.LIGHTINGS
    }
    assert mean_luma["bright"] > mean_luma["normal"] > mean_luma["dim"] > mean_luma["night"]
    assert mean_luma["dim"] < 0.7 * mean_luma["bright"]


def test_crowd_and_lighting_are_reported_and_respected():
    empty = synthetic.render_scene("bus", 1, lighting="dim", crowd=0)
    assert empty.boxes == [] and empty.meta == SceneMeta("bus", "dim", 0, 640, 360)
    packed = synthetic.render_scene("store", 1, crowd=25)
    assert packed.meta.crowd == 25 and len(packed.boxes) >= 15  # a few may hide behind nearer people


def test_people_look_smaller_further_away():
    frame = synthetic.render_scene("store", 4, crowd=20)
    bottoms_and_heights = sorted((y + h, h) for _, y, _, h in (gt.box for gt in frame.boxes) if y > 0)
    far, near = bottoms_and_heights[0], bottoms_and_heights[-1]
    assert near[1] > 1.5 * far[1]


def test_clip_mp4_decodes_back_to_the_expected_frame_count(tmp_path: Path):
    clip = synthetic.render_clip("bus", 11, seconds=2.5, fps=12)
    assert len(clip.frames) == len(clip.boxes) == 30
    path = tmp_path / "clip.mp4"
    path.write_bytes(synthetic.encode_mp4(clip.frames, clip.fps))
    capture = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        decoded.append(frame)
    capture.release()
    assert len(decoded) == 30
    assert decoded[0].shape == (360, 640, 3)
    assert capture_fps(path) == pytest.approx(12.0)


def capture_fps(path: Path) -> float:
    capture = cv2.VideoCapture(str(path))
    try:
        return float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()


@pytest.mark.parametrize("kind", KINDS)
def test_track_ids_are_stable_across_frames(kind):
    clip = synthetic.render_clip(kind, 8, seconds=3.0, fps=12)
    tracks: dict[int, list[tuple[int, tuple[float, float]]]] = {}
    for index, boxes in enumerate(clip.boxes):
        assert len({gt.track_id for gt in boxes}) == len(boxes)  # one box per person per frame
        for gt in boxes:
            x, y, w, h = gt.box
            tracks.setdefault(gt.track_id, []).append((index, (x + w / 2, y + h)))
    assert 1 <= len(tracks) <= clip.meta.crowd
    for track_id, path in tracks.items():
        assert len(path) >= len(clip.frames) // 2, f"track {track_id} flickers"
        for (i0, (x0, y0)), (i1, (x1, y1)) in zip(path, path[1:], strict=False):
            if i1 == i0 + 1:  # a person moves a little between consecutive frames, never jumps
                assert abs(x1 - x0) < 40 and abs(y1 - y0) < 40, (track_id, i0)


@pytest.mark.parametrize(("kind", "seed"), [(kind, seed) for kind in KINDS for seed in range(4)])
def test_clip_true_count_is_what_the_frames_show(kind, seed):
    clip = synthetic.render_clip(kind, seed, seconds=3.0, fps=12)
    first: dict[int, tuple[float, float]] = {}
    last: dict[int, tuple[float, float]] = {}
    for boxes in clip.boxes:
        for gt in boxes:
            x, y, w, h = gt.box
            first.setdefault(gt.track_id, (x + w / 2, y + h))
            last[gt.track_id] = (x + w / 2, y + h)
    seen = [clip.line.crossing(first[t], last[t]) for t in first]
    assert clip.crossings >= 2
    assert seen.count(1) == clip.crossings
    assert seen.count(-1) == clip.exits


def test_count_line_tells_in_from_out_and_ignores_passing_beside_it():
    line = CountLine((0.0, 100.0), (100.0, 100.0))  # inwards = downwards in the image
    assert line.crossing((50, 90), (50, 110)) == 1
    assert line.crossing((50, 110), (50, 90)) == -1
    assert line.crossing((150, 90), (150, 110)) == 0  # past the end of the line
    assert line.crossing((20, 90), (80, 95)) == 0


def test_field_detections_use_the_event_format_and_stay_inside_the_image():
    for seed in range(10):
        frame = synthetic.render_scene("bus", seed, lighting="night" if seed % 2 else "bright")
        for det in synthetic.simulate_detections(frame.boxes, frame.meta, seed):
            assert set(det) == {"label", "score", "box", "track_id"}
            assert det["label"] == "person" and isinstance(det["track_id"], int)
            assert synthetic.CONFIDENCE_THRESHOLD <= det["score"] <= 1
            x, y, w, h = det["box"]
            assert all(type(v) is float for v in det["box"])  # plain floats: the event goes to JSON as is
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 640 and y + h <= 360


def field_scores(lighting: str) -> tuple[float, float]:
    """Mean score and recall (matched by track id) of the field model over many scenes of one lighting."""
    scores, found, people = [], 0, 0
    for seed in range(30):
        frame = synthetic.render_scene("store", seed, lighting=lighting, crowd=8)
        detections = synthetic.simulate_detections(frame.boxes, frame.meta, seed)
        truth = {gt.track_id for gt in frame.boxes}
        scores += [d["score"] for d in detections]
        found += len(truth & {d["track_id"] for d in detections})
        people += len(truth)
    return statistics.mean(scores), found / people


def test_field_model_is_less_sure_and_misses_more_at_night_than_in_bright_light():
    bright_score, bright_recall = field_scores("bright")
    night_score, night_recall = field_scores("night")
    assert night_score < bright_score - 0.2
    assert night_recall < bright_recall


def test_field_model_is_less_sure_in_crowds():
    quiet = SceneMeta("bus", "normal", 3, 640, 360)
    packed = SceneMeta("bus", "normal", 25, 640, 360)
    assert synthetic.detection_quality(packed) < synthetic.detection_quality(quiet)


def test_field_count_is_exact_in_good_light_more_often_than_at_night():
    def exact(lighting: str) -> int:
        meta = SceneMeta("bus", lighting, 6, 640, 360)
        return sum(synthetic.simulate_count(6, meta, seed) == 6 for seed in range(200))

    assert exact("bright") > exact("night")


def test_field_reason_flags_unsure_frames_and_leaves_sure_ones_alone():
    bright = SceneMeta("store", "bright", 3, 640, 360)
    unsure = [{"label": "person", "score": 0.31, "box": [1.0, 1.0, 20.0, 50.0], "track_id": 1}]
    sure = [{"label": "person", "score": 0.95, "box": [1.0, 1.0, 20.0, 50.0], "track_id": 1}]
    assert synthetic.field_reason(unsure, bright, 0) == "low_confidence"
    reasons = {synthetic.field_reason(sure, bright, seed) for seed in range(200)}
    assert reasons == {None, "audit_sample"}
    night = SceneMeta("store", "night", 3, 640, 360)
    assert "ood" in {synthetic.field_reason(sure, night, seed) for seed in range(20)}


def test_night_vision_is_monochrome_lit_from_the_middle_and_repeatable():
    from loupe_synthetic.scenes import night_vision

    flat = np.full((90, 160, 3), 60, np.uint8)
    seen = night_vision(flat, np.random.default_rng(3))
    assert seen.shape == flat.shape and seen.dtype == np.uint8
    assert (seen[..., 0] == seen[..., 1]).all() and (seen[..., 1] == seen[..., 2]).all()  # no colour left
    middle, corner = seen[35:55, 70:90].mean(), seen[:15, :25].mean()
    assert middle > corner + 20  # the camera's own illuminator falls off toward the corners
    assert (night_vision(flat, np.random.default_rng(3)) == seen).all()
