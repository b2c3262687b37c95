"""Face blurring as a pure function (annotations/privacy.py): what the Haar cascade finds on drawn faces, what
the person-box fallback covers, and that a blurred face is gone while the rest of the frame is untouched."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotations import privacy
from loupe_synthetic.scenes import render_scene
from tests.faces import scene_with_face


def region(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return image[y:y + h, x:x + w].astype(np.int16)


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the area of `b`."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return max(0, x1 - x0) * max(0, y1 - y0) / (b[2] * b[3])


def test_the_bundled_frontal_face_cascade_is_there():
    assert (Path(cv2.data.haarcascades) / privacy.CASCADE_FILE).is_file()


@pytest.mark.parametrize("size", [32, 48, 96, 160])
def test_the_cascade_finds_the_drawn_face_at_every_size(size):
    scene = scene_with_face(size, x=400, y=40)
    faces = privacy.detect_faces(scene.image)
    assert faces and max(overlap(face, scene.face) for face in faces) > 0.7


def test_a_blurred_face_differs_strongly_and_is_no_longer_a_face_while_the_rest_is_untouched():
    scene = scene_with_face(96)
    result = privacy.blur_faces(scene.image)
    assert result.faces
    assert np.abs(region(result.image, scene.face) - region(scene.image, scene.face)).mean() > 12
    # Not a face any more, and the pixelation leaves no detail: neighbouring pixels are nearly equal.
    assert privacy.detect_faces(result.image) == []
    blurred_face = region(result.image, scene.face)
    assert np.abs(np.diff(blurred_face, axis=1)).mean() < 0.5 * np.abs(
        np.diff(region(scene.image, scene.face), axis=1)).mean()
    assert np.array_equal(region(result.image, scene.far), region(scene.image, scene.far))
    outside = np.ones(scene.image.shape[:2], bool)
    for x, y, w, h in result.regions:
        outside[y:y + h, x:x + w] = False
    assert np.array_equal(result.image[outside], scene.image[outside])


def test_regions_are_grown_by_a_fifth_and_clipped_to_the_image():
    assert privacy.grow((100, 100, 50, 40), 0.2, 640, 360) == (95, 96, 60, 48)
    assert privacy.grow((630, 350, 20, 20), 0.2, 640, 360) == (628, 348, 12, 12)
    assert privacy.grow((700, 10, 20, 20), 0.2, 640, 360) is None


def test_head_boxes_are_the_top_fifth_of_person_boxes():
    assert privacy.head_boxes([[10.0, 20.0, 30.0, 100.0], [5, 5, 0, 10]]) == [(10, 20, 30, 20)]


def test_synthetic_people_are_missed_by_the_cascade_and_caught_by_their_head_boxes():
    """Drawn people have round featureless heads: the cascade cannot see them, their boxes can."""
    frame = render_scene("store", 11, crowd=6, lighting="normal")
    assert frame.boxes
    heads = privacy.head_boxes([gt.box for gt in frame.boxes])
    result = privacy.blur_faces(frame.image, heads)
    assert not any(overlap(face, head) > 0.3 for face in result.faces for head in heads)
    changed = [np.abs(region(result.image, head) - region(frame.image, head)).max() for head in heads]
    assert all(c > 0 for c in changed)


def test_variant_key_depends_on_the_boxes_not_their_order():
    a, b = (1, 2, 3, 4), (5, 6, 7, 8)
    assert privacy.variant_key([a, b]) == privacy.variant_key([b, a]) != privacy.variant_key([a])


def test_detection_from_many_threads_gives_the_same_answer():
    scene = scene_with_face(96)
    expected = privacy.detect_faces(scene.image)
    start = threading.Barrier(4)
    answers: list[list[privacy.Box]] = []

    def detect() -> None:
        start.wait()
        answers.append(privacy.detect_faces(scene.image))

    threads = [threading.Thread(target=detect) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [expected] * 4
