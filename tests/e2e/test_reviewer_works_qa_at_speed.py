"""A QA reviewer's whole job at speed, in the browser: open QA, see what the annotator changed from the model's
pre-label (diff overlay), zoom, accept with the keyboard and land on the next item, reject one with a comment
pinned to a region, fix a box in place and accept. Then the stored rows: item statuses, the reviewer's new
version (origin `review`, authored by the reviewer, with its boxes and its diff vs the annotator's), audit events.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from annotations.models import Annotation, AnnotationOrigin, AuditEvent
from loupe_synthetic.scenes import encode_jpeg, render_scene
from reviewer.models import ItemStatus, ReviewItem
from tests.e2e.helpers import (
    DIGEST_JS,
    add_browser_member,
    canvas_digest,
    fitted_transform,
    post_events,
    sign_in,
    upload,
)
from tests.factories import as_user, make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

W, H = 640, 480
LEFT, RIGHT = [60.0, 100.0, 80.0, 200.0], [400.0, 120.0, 80.0, 200.0]  # the model's two boxes on every frame
COMMENT = "The right box misses the shopper's legs"

OVERLAY_DIGEST_JS = """(id) => { const c = document.querySelector(`[data-testid=${id}]`);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0; for (let i = 0; i < d.length; i += 4) h = (Math.imul(h, 31) + d[i] + 7 * d[i + 1] + 13 * d[i + 3]) >>> 0;
  return String(h); }"""


def person(box: list[float]) -> dict:
    return {"label": "person", "box": box}


def seed_submitted_items(project, kit, server_url: str) -> list[ReviewItem]:
    """Three frames with the model's two boxes, each submitted by alice (through the API: this journey is QA's);
    returned in the order submitted. The first she changed (moved the left box, deleted the right, added one)."""
    for i in range(3):
        sha = upload(server_url, kit, encode_jpeg(render_scene("store", 10 + i, width=W, height=H, crowd=2).image))
        event = prediction_event(f"frame-{i}", sha)
        event["detections"] = [{"label": "person", "score": 0.45, "box": b} for b in (LEFT, RIGHT)]
        post_events(server_url, kit, [event])
    submissions = [
        [person([65, 100, 80, 200]), person([250, 150, 60, 150])],  # moved, added; the right one deleted
        [person(LEFT), person(RIGHT)],
        [person(LEFT), person(RIGHT)],
    ]
    items = []
    for boxes in submissions:
        served = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json").json()
        body = {"lease_token": served["lease_token"], "boxes": boxes, "verdict": "correct"}
        response = as_user("alice").post(f"/api/v1/items/{served['id']}/submit", body, format="json")
        assert response.json()["item_status"] == "submitted"
        items.append(ReviewItem.objects.get(pk=served["id"]))
    return items


def wait_changed(page: Page, js: str, test_id: str, before: str) -> None:
    page.wait_for_function(f"([id, before]) => ({js})(id) !== before", arg=[test_id, before])


def test_reviewer_decides_by_keyboard_fixes_a_box_and_every_decision_is_stored(page, app_server, make_user,
                                                                               screenshot):
    project = make_project("shop-floor-qa-speed")
    project.qa_sample_rate = 1.0  # every submit waits for QA
    project.save(update_fields=["qa_sample_rate"])
    kit = make_device_kit(project)
    add_browser_member(make_user, project, "alice", "annotator")
    bob_pw = add_browser_member(make_user, project, "bob", "reviewer")
    first, second, third = seed_submitted_items(project, kit, app_server.url)

    sign_in(page, "bob", bob_pw, then=f"/#/projects/{project.pk}/qa")
    expect(page.get_by_test_id("qa-list")).to_contain_text("v1 by alice")
    page.get_by_test_id("qa-ordering").select_option("updated_at")  # oldest first: the next items follow it
    expect(page.get_by_test_id(f"qa-item-{first.pk}")).to_be_visible()
    screenshot(page, "qa-list-oldest-first")

    # What alice changed from the model's pre-label, drawn over the large picture, with a legend.
    page.get_by_test_id(f"qa-item-{first.pk}").click()
    fitted_transform(page, "qa-canvas", W, H)
    legend = page.get_by_test_id("qa-diff-legend")
    expect(legend).to_contain_text("Model pre-label → v1: 1 moved, 1 added, 1 deleted")
    expect(page.get_by_test_id("qa-diff-kept")).to_contain_text("0 kept")
    expect(page.get_by_test_id("qa-diff-moved")).to_contain_text("1 moved")
    expect(page.get_by_test_id("qa-diff-added")).to_contain_text("1 added")
    expect(page.get_by_test_id("qa-diff-deleted")).to_contain_text("1 deleted")
    canvas = page.get_by_test_id("qa-canvas")
    assert canvas.bounding_box()["width"] > 800  # the picture takes the free space (it was 445 px)
    screenshot(page, "qa-diff-overlay")
    for width, height in ((1024, 768), (1440, 900)):  # no sideways scrolling; the decision needs no scrolling
        page.set_viewport_size({"width": width, "height": height})
        expect(page.get_by_test_id("qa-accept")).to_be_in_viewport()
        expect(page.get_by_test_id("qa-reject")).to_be_in_viewport()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (width, height)
    page.set_viewport_size({"width": 1280, "height": 720})
    with_diff = page.evaluate(OVERLAY_DIGEST_JS, "qa-canvas")
    page.keyboard.press("d")  # the toggle hides the overlay, and shows it again
    expect(page.get_by_test_id("qa-diff-toggle")).not_to_be_checked()
    wait_changed(page, OVERLAY_DIGEST_JS, "qa-canvas", with_diff)
    page.keyboard.press("d")
    expect(page.get_by_test_id("qa-diff-toggle")).to_be_checked()

    # Zoom with the keyboard (the editor's zoom), back to fit.
    fitted = canvas_digest(page, "qa-canvas")
    page.keyboard.press("+")
    page.keyboard.press("+")
    wait_changed(page, DIGEST_JS, "qa-canvas", fitted)  # the base layer: the picture, larger
    screenshot(page, "qa-zoomed")
    page.keyboard.press("0")

    # The shortcuts, on ? and in the buttons.
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-overlay")).to_contain_text("Accept (with your fixes")
    expect(page.get_by_test_id("help-overlay")).to_contain_text("Next item without deciding")
    screenshot(page, "qa-shortcuts")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("help-overlay")).to_be_hidden()
    expect(page.get_by_test_id("qa-accept")).to_have_text("Accept (a)")

    # a: accepted, and the next item awaiting review opens by itself (no second Accept, no 409).
    page.keyboard.press("a")
    expect(page).to_have_url(re.compile(rf"#/projects/{project.pk}/qa/{second.pk}$"))
    expect(page.get_by_test_id("qa-done")).to_have_text(f"Item {first.pk} is now accepted.")
    expect(page.get_by_test_id("qa-diff-legend")).to_contain_text("Model pre-label → v1: no change")
    screenshot(page, "qa-accepted-next")

    # Reject with a comment pinned to the right box: m marks the region, r goes to the comment, Ctrl+Enter sends.
    view = fitted_transform(page, "qa-canvas", W, H)
    page.keyboard.press("m")
    expect(page.get_by_test_id("qa-selection")).to_contain_text("Drag on the image")
    page.mouse.move(*view.to_screen(380, 100))
    page.mouse.down()
    page.mouse.move(*view.to_screen(500, 340), steps=6)
    page.mouse.up()
    expect(page.get_by_test_id("qa-region")).to_contain_text("Pinned to x")
    page.keyboard.press("r")
    expect(page.get_by_test_id("qa-comment")).to_be_focused()
    page.keyboard.type(COMMENT)
    screenshot(page, "qa-reject-pinned")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(rf"#/projects/{project.pk}/qa/{third.pk}$"))
    expect(page.get_by_test_id("qa-done")).to_have_text(f"Item {second.pk} is now pending.")

    # Fix and accept: drag the left box 10 px right and 20 px down, delete the right one, accept.
    view = fitted_transform(page, "qa-canvas", W, H)
    page.mouse.move(*view.to_screen(100, 200))
    page.mouse.down()
    page.mouse.move(*view.to_screen(110, 220), steps=6)
    page.mouse.up()
    page.mouse.click(*view.to_screen(440, 300))  # select the right box
    expect(page.get_by_test_id("qa-delete-box")).to_be_enabled()
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("qa-fix-summary")).to_contain_text("1 moved, 1 deleted")
    expect(page.get_by_test_id("qa-accept")).to_have_text("Fix and accept (a)")
    expect(page.get_by_test_id("qa-diff-legend")).to_contain_text("Model pre-label → your fix: 1 moved, 1 deleted")
    screenshot(page, "qa-fix-box")
    page.keyboard.press("a")
    expect(page.get_by_test_id("qa-empty")).to_be_visible()  # nothing left: the list, saying so
    expect(page.get_by_test_id("qa-done")).to_contain_text(f"Item {third.pk} is now accepted. Your fix is stored")
    screenshot(page, "qa-all-done")

    # What was stored.
    for item in (first, second, third):
        item.refresh_from_db()
    assert (first.status, second.status, third.status) == (ItemStatus.ACCEPTED, ItemStatus.PENDING,
                                                           ItemStatus.ACCEPTED)
    assert second.last_comment == COMMENT
    assert second.last_comment_region["box"] == pytest.approx([380, 100, 120, 240], abs=2)

    assert Annotation.objects.filter(review_item_id=first.pk).count() == 1  # a plain accept adds no version
    annotator, fix = Annotation.objects.filter(review_item_id=third.pk).order_by("version")
    assert (annotator.origin, annotator.author.username, annotator.boxes) == ("person", "alice",
                                                                             [person(LEFT), person(RIGHT)])
    assert (fix.version, fix.origin, fix.author.username) == (2, AnnotationOrigin.REVIEW, "bob")
    assert len(fix.boxes) == 1 and fix.boxes[0]["label"] == "person"
    assert fix.boxes[0]["box"] == pytest.approx([70, 120, 80, 200], abs=1.5)
    assert {k: fix.diff[k] for k in ("kept", "moved", "added", "removed")} == {"kept": 0, "moved": 1, "added": 0,
                                                                              "removed": 1}

    def decisions(item: ReviewItem) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(object_type="review_item", object_id=str(item.pk),
                                              action__in=["item.accepted", "item.rejected"]))

    [accepted] = decisions(first)
    assert accepted.action == "item.accepted" and accepted.actor.username == "bob"
    assert accepted.after == {"status": "accepted", "comment": ""}
    [rejected] = decisions(second)
    assert rejected.action == "item.rejected" and rejected.after["comment"] == COMMENT
    assert rejected.after["region"]["box"] == pytest.approx([380, 100, 120, 240], abs=2)
    [fixed] = decisions(third)
    assert fixed.action == "item.accepted" and fixed.actor.username == "bob"
    assert fixed.before == {"status": "submitted", "version": 1, "boxes": [person(LEFT), person(RIGHT)]}
    assert fixed.after["version"] == 2 and fixed.after["annotation"] == fix.pk and fixed.after["boxes"] == fix.boxes
