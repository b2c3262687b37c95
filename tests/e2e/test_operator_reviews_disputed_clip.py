"""A bus operator opens a disputed boarding clip (the ticket machine and the camera disagree), steps through it
frame by frame with ←/→, marks a model track wrong, sets the true count and submits; the database holds the
annotation with that count."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.models import Annotation, Site
from loupe_synthetic.scenes import encode_mp4, render_clip
from tests.e2e.helpers import (
    add_browser_member,
    fitted_transform,
    post_events,
    queued_item,
    sign_in,
    upload,
    wait_drawn_frame,
)
from tests.factories import make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH, HEIGHT, SECONDS, FPS = 320, 180, 2.0, 10.0


def dispute_event(event_id: str, sha: str, boxes: list[dict[str, object]], device_count: int) -> dict[str, object]:
    return {
        "id": event_id, "type": "dispute", "captured_at": "2026-11-21T08:15:30.120Z", "camera": "bus-door",
        "asset": sha, "frame_index": 0, "model": {"name": "people-det", "version": "3", "sha256": "0" * 64},
        "detections": [{"label": "person", "score": 0.8, "box": b["box"], "track_id": b["track_id"]} for b in boxes],
        "count": {"name": "boarding", "value": device_count}, "reason": "disputed",
        "context": {"route": "42", "stop": "Main St", "tickets": 3},
    }


def test_operator_steps_a_disputed_clip_sets_the_count_and_submits(page, app_server, make_user, screenshot):
    project = make_project("bus-boarding")
    kit = make_device_kit(project, site="Route 42", camera="bus-door")
    clip = render_clip("bus", 2, width=WIDTH, height=HEIGHT, seconds=SECONDS, fps=FPS)
    frames = len(clip.frames)
    true_count = clip.crossings  # people who boarded, as the frames show
    sha = upload(app_server.url, kit, encode_mp4(clip.frames, clip.fps), "video/mp4")
    first = [b.as_dict() for b in clip.boxes[0]]
    wrong_track = int(first[-1]["track_id"])
    item = queued_item(post_events(app_server.url, kit, [dispute_event("dispute-1", sha, first, true_count - 1)])[0])
    assert item.reason == "disputed"
    password = add_browser_member(make_user, project, "otto", "operator",
                                  sites=[Site.objects.get(project=project, name="Route 42")])

    sign_in(page, "otto", password, then=f"/#/projects/{project.pk}/work")
    page.get_by_test_id("claim-reason").select_option("disputed")
    page.get_by_test_id("claim-button").click()

    counter = page.get_by_test_id("frame-index")
    expect(counter).to_have_text(f"1 / {frames}")
    expect(page.get_by_test_id("device-count")).to_have_text(str(true_count - 1))
    fitted_transform(page, "clip-canvas", WIDTH, HEIGHT)
    frame_1 = wait_drawn_frame(page, 0)

    # Each step moves the counter and, once its JPEG is in, the picture: a different frame draws differently,
    # the same frame draws the same.
    page.keyboard.press("ArrowRight")
    expect(counter).to_have_text(f"2 / {frames}")
    frame_2 = wait_drawn_frame(page, 1)
    assert frame_2 != frame_1
    page.keyboard.press("ArrowRight")
    expect(counter).to_have_text(f"3 / {frames}")
    assert wait_drawn_frame(page, 2) not in (frame_1, frame_2)
    page.keyboard.press("ArrowLeft")
    expect(counter).to_have_text(f"2 / {frames}")
    assert wait_drawn_frame(page, 1) == frame_2
    page.keyboard.press("Shift+ArrowRight")
    expect(counter).to_have_text(f"12 / {frames}")
    assert wait_drawn_frame(page, 11) != frame_2
    page.keyboard.press("ArrowLeft")
    expect(counter).to_have_text(f"11 / {frames}")
    wait_drawn_frame(page, 10)

    page.get_by_test_id(f"wrong-track-{wrong_track}").check()
    page.get_by_test_id("count-input").fill(str(true_count))
    page.get_by_test_id("verdict").select_option("correct")
    page.get_by_test_id("note").fill("Two boarded; the camera lost one behind the pole")
    screenshot(page, "clip-reviewer")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = Annotation.objects.get(review_item_id=item.pk)
    assert annotation.author.username == "otto" and annotation.count == true_count
    assert annotation.verdict == "correct"
    assert annotation.diff["wrong_tracks"] == [wrong_track]
    assert annotation.diff["count_change"] == 1
    assert {b.get("frame_index") for b in annotation.boxes} <= set(range(frames))
