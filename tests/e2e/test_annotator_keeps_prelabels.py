"""An annotator's frame work as it is really done, then what was STORED (DESIGN.md "Review": pre-labels at or above
the project's threshold are the starting answer and are stored unless deleted; those below are suggestions that
count only when accepted; "Model was right" stores the model's boxes; the diff says honestly what happened).

Issue 13, defect 1: nudging 1 of 11 pre-labels stored 1 box ("removed: 10"), and "Model was right" stored 0.
Defect 8: on 1024×768 the Submit button was at y = 1446 and the score table overflowed the side panel.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from annotations.models import Annotation
from loupe_synthetic.scenes import encode_jpeg, render_scene
from reviewer.models import ReviewItem
from tests.e2e.helpers import add_browser_member, post_events, queued_item, sign_in, upload
from tests.factories import make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE_W, IMAGE_H = 640, 480
SCENE_SEED = 8  # a store with eleven people, no two boxes overlapping at IoU ≥ 0.5
THRESHOLD = 0.5
NUDGE_FAST = 10  # Shift+→ in commands.ts


def _iou(a: list[float], b: list[float]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def seed_item(app_server: Any, make_user: Any, scores: list[float]) -> tuple[ReviewItem, list[dict[str, Any]], str]:
    """A project whose QA sample rate is 0 (the annotator's answer is what is stored) and one queued frame of a
    store whose pre-label has one box per person, scored `scores`; returns the item, the detections and
    alice's password."""
    project = make_project("shop-floor", classes=("person", "bag"))
    project.qa_sample_rate = 0.0
    project.prelabel_threshold = THRESHOLD
    project.save(update_fields=["qa_sample_rate", "prelabel_threshold"])
    kit = make_device_kit(project)
    scene = render_scene("store", SCENE_SEED, width=IMAGE_W, height=IMAGE_H, crowd=len(scores))
    sha = upload(app_server.url, kit, encode_jpeg(scene.image))
    detections = [{"label": "person", "score": score, "box": [round(v, 1) for v in person.box], "track_id": i + 1}
                  for i, (score, person) in enumerate(zip(scores, scene.boxes, strict=True))]
    event = prediction_event("frame-1", sha, score=min(scores))
    event["detections"] = detections
    item = queued_item(post_events(app_server.url, kit, [event])[0])
    return item, detections, add_browser_member(make_user, project, "alice", "annotator")


def open_editor(page: Page, item: ReviewItem, password: str, boxes: int) -> None:
    """Sign in as alice, open the project's work page, claim, and wait for the editor with `boxes` boxes."""
    sign_in(page, "alice", password, then=f"/#/projects/{item.project_id}/work")
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("box-list").locator("li")).to_have_count(boxes)


def positions(boxes: list[dict[str, Any]]) -> list[list[float]]:
    """The boxes' [x, y, w, h], rounded to the editor's 0.01 px, in a fixed order."""
    return sorted([round(v, 2) for v in b["box"]] for b in boxes)


def stored(item: ReviewItem) -> Annotation:
    return Annotation.objects.get(review_item_id=item.pk)


def diff_counts(annotation: Annotation) -> dict[str, Any]:
    keys = ("kept", "moved", "relabelled", "deleted", "added", "suggestions_accepted", "suggestions_left")
    return {k: (annotation.diff or {}).get(k) for k in keys}


ELEVEN_ABOVE = [0.55 + 0.04 * i for i in range(11)]  # 0.55 … 0.95: every box is the starting answer


def test_accepting_eleven_prelabels_unchanged_stores_all_eleven(page, app_server, make_user, screenshot):
    item, detections, password = seed_item(app_server, make_user, ELEVEN_ABOVE)
    open_editor(page, item, password, boxes=11)
    expect(page.get_by_test_id("suggestions-warning")).to_have_count(0)  # nothing below the threshold
    screenshot(page, "annotator-eleven-prelabels")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = stored(item)
    assert annotation.verdict == "correct" and len(annotation.boxes) == 11
    assert positions(annotation.boxes) == positions(detections)
    assert diff_counts(annotation) == {"kept": 11, "moved": 0, "relabelled": 0, "deleted": 0, "added": 0,
                                       "suggestions_accepted": 0, "suggestions_left": 0}


def test_nudging_one_of_eleven_stores_eleven(page, app_server, make_user, screenshot):
    item, detections, password = seed_item(app_server, make_user, ELEVEN_ABOVE)
    # Nudge the person who overlaps no one least (with room on the right): 10 px is the same box, moved.
    room = [i for i, d in enumerate(detections) if d["box"][0] + d["box"][2] + NUDGE_FAST <= IMAGE_W]
    loneliest = min(room, key=lambda i: max(_iou(detections[i]["box"], d["box"])
                                                 for j, d in enumerate(detections) if j != i))
    open_editor(page, item, password, boxes=11)
    page.get_by_test_id("box-list").locator("li button").nth(loneliest).click()
    page.get_by_test_id("editor-canvas").focus()
    page.keyboard.press("Shift+ArrowRight")
    expect(page.get_by_test_id("selection-status")).to_contain_text(f"person #{loneliest + 1}")
    screenshot(page, "annotator-nudged-one-of-eleven")
    page.keyboard.press("s")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = stored(item)
    assert len(annotation.boxes) == 11, annotation.boxes
    expected = [dict(d) for d in detections]
    expected[loneliest]["box"] = [d + v for d, v in zip(detections[loneliest]["box"], (NUDGE_FAST, 0, 0, 0), strict=True)]
    assert positions(annotation.boxes) == positions(expected)
    counts = diff_counts(annotation)
    assert (counts["kept"], counts["moved"], counts["deleted"], counts["added"]) == (10, 1, 0, 0), annotation.diff


def test_model_was_right_stores_the_models_boxes(page, app_server, make_user, screenshot):
    scores = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2]  # four starting boxes, two suggestions
    item, detections, password = seed_item(app_server, make_user, scores)
    open_editor(page, item, password, boxes=6)
    page.get_by_test_id("verdict").select_option("confirm")
    expect(page.get_by_test_id("model-right-changed")).to_have_count(0)  # nothing changed: nothing to ask
    screenshot(page, "annotator-model-was-right")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = stored(item)
    assert annotation.verdict == "confirm"
    assert positions(annotation.boxes) == positions([d for d in detections if d["score"] >= THRESHOLD])


def test_suggestions_below_the_threshold_are_counted_and_accepted_by_one_key(page, app_server, make_user, screenshot):
    scores = [0.9, 0.85, 0.8, 0.75, 0.7, 0.45, 0.3, 0.2]  # five starting boxes, three dashed suggestions
    item, detections, password = seed_item(app_server, make_user, scores)
    open_editor(page, item, password, boxes=8)
    warning = page.get_by_test_id("suggestions-warning")
    expect(warning).to_contain_text("3 suggestions not accepted — they will not be stored")
    expect(warning).to_be_in_viewport()  # beside Submit, before it is pressed
    expect(page.get_by_test_id("accept-all")).to_contain_text("(a)")
    screenshot(page, "annotator-suggestions-warning")
    page.get_by_test_id("editor-canvas").focus()
    page.keyboard.press("a")
    expect(warning).to_have_count(0)
    screenshot(page, "annotator-suggestions-accepted")
    page.keyboard.press("s")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = stored(item)
    assert len(annotation.boxes) == 8
    assert positions(annotation.boxes) == positions(detections)
    counts = diff_counts(annotation)
    # The five starting boxes kept as they were; the three suggestions accepted, none left.
    assert (counts["kept"], counts["suggestions_accepted"], counts["suggestions_left"]) == (5, 3, 0), annotation.diff


@pytest.mark.parametrize("size", [(1024, 768), (1440, 900)], ids=["1024x768", "1440x900"])
def test_editor_layout_puts_the_work_first(page, app_server, make_user, screenshot, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    item, _, password = seed_item(app_server, make_user, ELEVEN_ABOVE[:8] + [0.3, 0.2, 0.1])
    open_editor(page, item, password, boxes=11)
    expect(page.get_by_test_id("suggestions-warning")).to_be_visible()
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"horizontal overflow of {overflow} px at {width}×{height}"
    for test_id in ("submit", "skip", "verdict", "label-option-1", "box-list", "suggestions-warning", "editor-canvas"):
        expect(page.get_by_test_id(test_id)).to_be_in_viewport()
    submit = page.get_by_test_id("submit").bounding_box()
    assert submit is not None and submit["y"] + submit["height"] <= height
    # "Why this item" is there, collapsed under the work; opened, it wraps within the panel.
    why = page.get_by_test_id("why-item")
    expect(why).not_to_have_attribute("open", "")
    why.locator("summary").click()
    expect(page.get_by_test_id("score-parts")).to_be_visible()
    panel_overflow = page.evaluate(
        "() => { const s = document.querySelector('.side-scroll'); return s.scrollWidth - s.clientWidth; }")
    assert panel_overflow <= 0, f"the side panel overflows by {panel_overflow} px"
    expect(page.get_by_test_id("submit")).to_be_in_viewport()
    screenshot(page, f"annotator-editor-{width}x{height}")
