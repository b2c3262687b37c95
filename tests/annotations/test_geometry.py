import numpy as np
import pytest

from annotations.geometry import box_agreement, box_diff, iou_matrix, match_boxes


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    ious = iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10], [20, 20, 5, 5], [5, 0, 10, 10]])
    assert ious[0, 0] == 1.0 and ious[0, 1] == 0.0
    assert ious[0, 2] == pytest.approx(50 / 150)


def test_hungarian_matching_prefers_the_best_total_not_greedy():
    a = [[0, 0, 10, 10], [6, 0, 10, 10]]
    b = [[4, 0, 10, 10], [9, 0, 10, 10]]
    pairs = {(i, j) for i, j, _ in match_boxes(a, b, iou_threshold=0.1)}
    assert pairs == {(0, 0), (1, 1)}


def test_agreement_and_diff():
    pre = [[0, 0, 10, 10], [50, 50, 10, 10]]
    fixed = [[1, 0, 10, 10], [100, 100, 10, 10], [200, 200, 5, 5]]
    assert box_agreement(pre, pre) == 1.0
    assert box_agreement([], []) == 1.0
    assert box_agreement(pre, fixed) == pytest.approx(2 * 1 / 5)
    assert box_diff(pre, fixed) == {"added": 2, "removed": 1, "moved": 1, "kept": 0}
    assert np.isclose(box_agreement(pre, []), 0.0)


def test_consolidation_keeps_the_majoritys_boxes_at_their_median_per_frame_and_label():
    from annotations.geometry import consolidate

    a = [{"label": "person", "box": [0, 0, 10, 20]}, {"label": "bag", "box": [50, 50, 10, 10]},
         {"label": "person", "box": [0, 0, 10, 20], "frame_index": 3, "track_id": 7}]
    b = [{"label": "person", "box": [1, 0, 10, 20]}, {"label": "person", "box": [50, 50, 10, 10]},
         {"label": "person", "box": [2, 0, 10, 20], "frame_index": 3}]
    c = [{"label": "person", "box": [2, 2, 10, 20]}, {"label": "person", "box": [90, 90, 5, 5]}]
    boxes, votes = consolidate([a, b, c], min_votes=2)
    # The bag is one vote (b called it a person: labels are not merged); the far box is one vote.
    assert boxes == [{"label": "person", "box": [1.0, 0.0, 10.0, 20.0]},
                     {"label": "person", "box": [1.0, 0.0, 10.0, 20.0], "frame_index": 3, "track_id": 7}]
    assert votes == [3, 2]
    assert consolidate([a, b, c], min_votes=1)[1] == [1, 3, 1, 1, 2]  # bag, person, person ×2, frame 3
    assert consolidate([[], []], min_votes=2) == ([], [])


def test_one_rule_for_a_box_and_its_image():
    from annotations.geometry import clip_boxes, clip_to_image

    assert clip_to_image([10, 10, 20, 20], 640, 480) == [10.0, 10.0, 20.0, 20.0]  # inside: kept exactly
    assert clip_to_image([561.6, 53.3, 98.4, 183.3], 640, 480) == [561.6, 53.3, 78.4, 183.3]  # issue 19's box
    assert clip_to_image([-5, -5, 10, 10], 640, 480) == [0.0, 0.0, 5.0, 5.0]
    assert clip_to_image([640, 10, 5, 5], 640, 480) is None  # touching the edge from outside: no area inside
    assert clip_to_image([10, 10, 0, 5], 640, 480) is None
    boxes = [{"label": "a", "box": [630, 0, 20, 10]}, {"label": "b", "box": [700, 0, 5, 5]}]
    assert clip_boxes(boxes, 640, 480) == ([{"label": "a", "box": [630.0, 0.0, 10.0, 10.0]}], [1])
    assert clip_boxes(boxes, None, None) == (boxes, [])  # an image never probed: kept as sent
