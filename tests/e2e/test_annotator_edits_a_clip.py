"""An annotator in clip mode uses the editor's basics (issue 13, defect 9): the toolbar's delete, undo and zoom,
? for the shortcuts, Home/End to the ends of the clip, a track's honest status past its last keyframe, and a box
drawn on the last frame. The stored version has exactly the tracks left on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.models import Annotation
from tests.clips import FRAMES, HEIGHT, WIDTH, numbered_clip
from tests.e2e.helpers import (
    DIGEST_JS,
    add_browser_member,
    canvas_digest,
    fitted_transform,
    post_events,
    queued_item,
    sign_in,
    upload,
    wait_drawn_frame,
)
from tests.factories import make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

KEPT = [10.0, 20.0, 30.0, 60.0]  # track 0, on frame 0 only
DELETED = [130.0, 20.0, 30.0, 60.0]  # track 1, on frame 0 only


def test_annotator_uses_the_clip_toolbar_help_and_home_end(page, app_server, make_user, screenshot):
    project = make_project("store-entrance")
    kit = make_device_kit(project)
    sha = upload(app_server.url, kit, numbered_clip(), "video/mp4")
    event = prediction_event("clip-1", sha, boxes=2)
    event["detections"] = [{"label": "person", "score": 0.4, "box": box, "track_id": i}
                           for i, box in enumerate([KEPT, DELETED])]
    item = queued_item(post_events(app_server.url, kit, [event])[0])
    password = add_browser_member(make_user, project, "alice", "annotator")

    sign_in(page, "alice", password, then=f"/#/projects/{project.pk}/work")
    page.get_by_test_id("claim-button").click()
    counter = page.get_by_test_id("frame-index")
    expect(counter).to_have_text(f"1 / {FRAMES}")
    view = fitted_transform(page, "clip-canvas", WIDTH, HEIGHT)
    fitted = wait_drawn_frame(page, 0)
    status = page.get_by_test_id("keyframe-status")

    def click_box(box: list[float]) -> None:
        page.mouse.click(*view.to_screen(box[0] + box[2] / 2, box[1] + box[3] / 2))

    # Delete a track from the toolbar, undo it, delete the other one for good.
    click_box(KEPT)
    expect(status).to_have_text("Track #0: keyframe on this frame")
    page.get_by_test_id("delete-box").click()
    expect(status).to_contain_text("Select a box")
    page.get_by_test_id("undo").click()
    click_box(KEPT)
    expect(status).to_have_text("Track #0: keyframe on this frame")
    click_box(DELETED)
    expect(status).to_have_text("Track #1: keyframe on this frame")
    page.get_by_test_id("delete-box").click()
    screenshot(page, "clip-toolbar-delete")

    # Zoom in from the toolbar: the picture changes; Fit brings back the fitted view.
    without_deleted = canvas_digest(page, "clip-canvas")
    page.get_by_test_id("zoom-in").click()
    page.wait_for_function(f"(before) => ({DIGEST_JS})('clip-canvas') !== before", arg=without_deleted)
    screenshot(page, "clip-toolbar-zoom")
    page.get_by_test_id("zoom-fit").click()
    page.wait_for_function(f"(before) => ({DIGEST_JS})('clip-canvas') === before", arg=without_deleted)
    assert without_deleted != fitted  # the deleted track's box is gone from the picture

    # ? shows the clip's shortcuts, Esc closes them.
    page.keyboard.press("?")
    help_overlay = page.get_by_test_id("help-overlay")
    expect(help_overlay).to_contain_text("First / last frame")
    screenshot(page, "clip-shortcuts")
    page.keyboard.press("Escape")
    expect(help_overlay).to_be_hidden()

    # End: the last frame; the kept track ended at frame 1 and says so; Home comes back.
    click_box(KEPT)
    page.keyboard.press("End")
    expect(counter).to_have_text(f"{FRAMES} / {FRAMES}")
    expect(status).to_contain_text("not tracked here (after its last keyframe, frame 1)")
    page.keyboard.press("Home")
    expect(counter).to_have_text(f"1 / {FRAMES}")
    page.keyboard.press("End")
    expect(counter).to_have_text(f"{FRAMES} / {FRAMES}")
    wait_drawn_frame(page, FRAMES - 1)

    # Draw a new box on the last frame.
    page.keyboard.press("Escape")
    a = view.to_screen(100, 30)
    b = view.to_screen(140, 80)
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, steps=3)
    page.mouse.move(*b, steps=3)
    page.mouse.up()
    expect(status).to_have_text("Track #2: keyframe on this frame")
    screenshot(page, "clip-last-frame-box")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = Annotation.objects.get(review_item_id=item.pk)
    stored = sorted((b["track_id"], b["frame_index"], [round(v) for v in b["box"]]) for b in annotation.boxes)
    assert stored == [(0, 0, [round(v) for v in KEPT]), (2, FRAMES - 1, [100, 30, 40, 50])]
    assert annotation.author.username == "alice"
