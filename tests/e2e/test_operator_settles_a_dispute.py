"""A bus operator's whole job on a dispute (issue 13, defect 4): "Review disputed clips" serves the disputed clip
(not the frame box-corrections ahead of it in the queue), with the camera's count and tracks and the ticket
machine's count; the operator steps through it, drags the counting line, asks the server model for the boxes of
one frame, sets the true count and submits. The stored version holds that count and those boxes, and the item
is still queued as disputed."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from activelearning.registry.models import ModelStatus, ModelVersion, PrelabelRun
from annotations.models import Annotation, Site
from loupe_synthetic.scenes import encode_mp4, render_clip
from reviewer.models import ReviewItem
from tests.e2e.helpers import (
    add_browser_member,
    fitted_transform,
    post_events,
    sign_in,
    upload,
    wait_drawn_frame,
)
from tests.factories import jpeg_bytes, make_device_kit, make_project, prediction_event
from tests.onnx_models import fixed_detector_bytes

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH, HEIGHT, SECONDS, FPS = 320, 180, 2.0, 10.0
ASKED_FRAME = 5


def install_champion(app_server, project) -> ModelVersion:
    """The server's champion: a detector that sees one person, its file where the server process stores media."""
    data = fixed_detector_bytes([(32, 32, 20, 20, 0.9)])
    sha = hashlib.sha256(data).hexdigest()
    path = app_server.media_root / "models" / f"{sha}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ModelVersion.objects.create(project=project, name="server-det", version=1, file=f"models/{sha}.onnx",
                                       sha256=sha, size_bytes=len(data), input_width=64, input_height=64,
                                       classes=["person"], status=ModelStatus.CHAMPION)


def test_operator_settles_a_disputed_clip(page, app_server, make_user, screenshot):
    project = make_project("bus-boarding")
    kit = make_device_kit(project, site="Route 42", camera="bus-door")
    clip = render_clip("bus", 3, width=WIDTH, height=HEIGHT, seconds=SECONDS, fps=FPS)
    frames, true_count = len(clip.frames), clip.crossings
    camera_count, ticketing = true_count - 1, true_count + 1
    sha = upload(app_server.url, kit, encode_mp4(clip.frames, clip.fps), "video/mp4")
    still = upload(app_server.url, kit, jpeg_bytes(seed=11))
    key = frames // 2
    tracks = [{"label": "person", "score": 0.8, "box": b.as_dict()["box"], "track_id": b.as_dict()["track_id"]}
              for b in clip.boxes[key]]
    results = post_events(app_server.url, kit, [
        # A frame box-correction in the same queue: not the operator's work.
        prediction_event("frame-1", still, camera="bus-door", score=0.3, boxes=3),
        prediction_event("clip-1", sha, camera="bus-door", frame_index=key, count={"name": "boarding",
                         "value": camera_count}) | {"detections": tracks},
        {"id": "dispute-1", "type": "dispute", "captured_at": "2026-11-21T08:15:30.120Z", "camera": "bus-door",
         "asset": sha, "count": {"name": "boarding", "value": ticketing}, "reason": "disputed",
         "context": {"route": "42", "source": "ticketing", "camera_count": camera_count,
                     "ticketing_count": ticketing}},
    ])
    dispute = ReviewItem.objects.get(pk=results[2]["review_item"])
    assert dispute.reason == "disputed"
    install_champion(app_server, project)
    password = add_browser_member(make_user, project, "otto", "operator",
                                  sites=[Site.objects.get(project=project, name="Route 42")])

    sign_in(page, "otto", password)
    page.get_by_role("link", name="Review disputed clips").click()
    expect(page.get_by_test_id("claim-reason")).to_have_value("disputed")
    screenshot(page, "operator-disputed-clips")
    page.get_by_test_id("claim-button").click()

    # The dispute, not the frame: a clip, both counts, the camera's model by name, its tracks on the key frame.
    counter = page.get_by_test_id("frame-index")
    expect(counter).to_have_text(f"1 / {frames}")
    expect(page.get_by_test_id("item-reason")).to_contain_text("disputed")
    expect(page.get_by_test_id("device-count")).to_have_text(str(camera_count))
    expect(page.get_by_test_id("second-opinion-count")).to_have_text(str(ticketing))
    expect(page.get_by_test_id("device-model")).to_have_text("Device model: people-det v3")
    view = fitted_transform(page, "clip-canvas", WIDTH, HEIGHT)
    wait_drawn_frame(page, 0)
    screenshot(page, "operator-dispute-opened")

    # Frame by frame, then to the ends of the clip.
    page.keyboard.press("ArrowRight")
    expect(counter).to_have_text(f"2 / {frames}")
    page.keyboard.press("End")
    expect(counter).to_have_text(f"{frames} / {frames}")
    page.keyboard.press("Home")
    expect(counter).to_have_text(f"1 / {frames}")
    for n in range(ASKED_FRAME):
        page.keyboard.press("ArrowRight")
        expect(counter).to_have_text(f"{n + 2} / {frames}")
    wait_drawn_frame(page, ASKED_FRAME)

    # Drag the counting line's left end down by 40 image pixels.
    start = view.to_screen(0, HEIGHT / 2)
    end = view.to_screen(0, HEIGHT / 2 + 40)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 2, (start[1] + end[1]) / 2, steps=3)
    page.mouse.move(*end, steps=3)
    page.mouse.up()
    expect(page.get_by_test_id("line-ay")).to_have_value(str(HEIGHT // 2 + 40))
    expect(page.get_by_test_id("line-by")).to_have_value(str(HEIGHT // 2))
    screenshot(page, "operator-drags-counting-line")

    # The server model's boxes for this frame: a new track, stored once per frame.
    page.get_by_test_id("server-prelabels").click()
    expect(page.get_by_test_id("server-prelabel-status")).to_contain_text(
        f"server-det v1 on frame {ASKED_FRAME + 1}: 1 box, 1 new track")
    run = PrelabelRun.objects.get(review_item=dispute, frame_index=ASKED_FRAME)
    [server_box] = run.prediction.detections
    page.get_by_test_id("server-prelabels").click()  # again: merged by IoU, nothing stacked
    expect(page.get_by_test_id("server-prelabel-status")).to_contain_text("0 new tracks, 1 already tracked")
    screenshot(page, "operator-server-boxes")

    page.get_by_test_id("count-input").fill(str(true_count))
    page.get_by_test_id("verdict").select_option("correct")
    page.get_by_test_id("note").fill("Ticketing counted a child twice; the camera missed one behind the pole")
    screenshot(page, "operator-sets-true-count")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = Annotation.objects.get(review_item_id=dispute.pk)
    assert annotation.author.username == "otto" and annotation.count == true_count
    assert annotation.verdict == "correct"
    on_asked = [b for b in annotation.boxes if b.get("frame_index") == ASKED_FRAME]
    assert any(b["box"] == pytest.approx(server_box["box"], abs=0.01) for b in on_asked), on_asked
    device_tracks = {t["track_id"] for t in tracks}
    assert device_tracks <= {b["track_id"] for b in annotation.boxes if b.get("frame_index") == key}
    dispute.refresh_from_db()
    assert dispute.reason == "disputed"
    assert dispute.status in ("submitted", "accepted") and dispute.lease_holder_id is None
    # The frame box-correction was not served to the operator.
    assert results[0].get("review_item"), results[0]
    frame_item = ReviewItem.objects.get(pk=results[0]["review_item"])
    assert frame_item.status == "pending" and not Annotation.objects.filter(review_item_id=frame_item.pk).exists()
