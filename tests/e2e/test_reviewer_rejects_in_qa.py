"""A reviewer picks a submitted item from the QA list and rejects it with a comment pinned to a region of the
frame; the item goes back to its author first (DESIGN.md, "Work comes back to its owner"), who sees the comment
and the region on top; another annotator does not get it while it waits for its author."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.models import Annotation, AuditEvent
from loupe_synthetic.scenes import encode_jpeg, render_scene
from reviewer.models import ItemStatus
from tests.e2e.helpers import (
    add_browser_member,
    fitted_transform,
    post_events,
    queued_item,
    second_browser,
    sign_in,
    upload,
)
from tests.factories import make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

COMMENT = "Box 1 cuts off the feet; redo it down to the floor"


def test_rejected_item_returns_to_the_queue_with_the_reviewers_comment(browser, page, app_server, make_user,
                                                                        screenshot):
    project = make_project("shop-floor-qa")
    project.qa_sample_rate = 1.0  # every submit waits for QA
    project.save(update_fields=["qa_sample_rate"])
    kit = make_device_kit(project)
    scene = render_scene("store", 1, width=640, height=480, crowd=2)
    sha = upload(app_server.url, kit, encode_jpeg(scene.image))
    event = prediction_event("frame-1", sha)
    event["detections"] = [{"label": "person", "score": 0.45, "box": list(b.box), "track_id": b.track_id}
                           for b in scene.boxes]
    item = queued_item(post_events(app_server.url, kit, [event])[0])
    alice_pw = add_browser_member(make_user, project, "alice", "annotator")
    bob_pw = add_browser_member(make_user, project, "bob", "reviewer")
    carol_pw = add_browser_member(make_user, project, "carol", "annotator")

    # alice accepts the pre-labels and submits: the item waits for QA.
    sign_in(page, "alice", alice_pw, then=f"/#/projects/{project.pk}/work")
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("box-list").locator("li")).to_have_count(2)
    page.get_by_test_id("note").fill("Both shoppers boxed")
    page.get_by_test_id("accept-all").click()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    item.refresh_from_db()
    assert item.status == ItemStatus.SUBMITTED

    reviewer = second_browser(browser, app_server.url)
    annotator_2 = second_browser(browser, app_server.url)
    try:
        bob = reviewer.new_page()
        sign_in(bob, "bob", bob_pw, then=f"/#/projects/{project.pk}/qa")
        expect(bob.get_by_test_id("qa-list")).to_contain_text("v1 by alice")  # the list awaiting review
        screenshot(bob, "qa-list")
        bob.get_by_test_id(f"qa-item-{item.pk}").click()
        expect(bob.get_by_test_id("qa-latest")).to_be_visible()
        expect(bob.get_by_test_id("qa-prelabel")).to_be_visible()
        expect(bob.get_by_test_id("qa-note")).to_have_text("Note: Both shoppers boxed")
        expect(bob.get_by_test_id("qa-agreement-prelabel")).to_contain_text("100 %")
        bob.get_by_test_id("qa-comment").fill(COMMENT)
        # Pin the comment to the feet: mark a quarter of the frame, from its centre to the bottom right.
        view = fitted_transform(bob, "qa-canvas", 640, 480)
        bob.get_by_test_id("qa-pin").click()
        bob.mouse.move(*view.to_screen(320, 240))
        bob.mouse.down()
        bob.mouse.move(*view.to_screen(480, 360), steps=5)
        bob.mouse.up()
        expect(bob.get_by_test_id("qa-region")).to_contain_text("Pinned to x")
        screenshot(bob, "qa-review")
        bob.get_by_test_id("qa-reject").click()
        expect(bob.get_by_test_id("qa-done")).to_have_text(f"Item {item.pk} is now pending.")

        item.refresh_from_db()
        assert item.status == ItemStatus.PENDING and item.last_comment == COMMENT
        assert item.last_comment_region["box"] == pytest.approx([320, 240, 160, 120], abs=3)
        rejected = AuditEvent.objects.get(object_type="review_item", object_id=str(item.pk), action="item.rejected")
        assert rejected.actor.username == "bob" and rejected.after["comment"] == COMMENT

        bob.goto(f"/#/projects/{project.pk}/items/{item.pk}/history")
        expect(bob.get_by_test_id("history-versions").locator("tbody tr")).to_have_count(1)
        expect(bob.get_by_test_id("history-events")).to_contain_text("item.rejected")
        expect(bob.get_by_test_id("history-events")).to_contain_text(COMMENT)
        screenshot(bob, "item-history")

        # Another annotator does not get it while it waits for alice; alice does, with the comment on it.
        carol = annotator_2.new_page()
        sign_in(carol, "carol", carol_pw, then=f"/#/projects/{project.pk}/work")
        carol.get_by_test_id("claim-button").click()
        expect(carol.get_by_test_id("queue-empty")).to_be_visible()
        page.get_by_test_id("claim-button").click()
        expect(page.get_by_test_id("editor-canvas")).to_be_visible()
        expect(page.get_by_test_id("last-comment")).to_contain_text(COMMENT)
        expect(page.get_by_test_id("last-comment")).to_contain_text("pinned to the orange region")
        screenshot(page, "returned-item")
        item.refresh_from_db()
        assert item.lease_holder.username == "alice" and item.rework_author.username == "alice"
    finally:
        reviewer.close()
        annotator_2.close()
    assert Annotation.objects.filter(review_item_id=item.pk).count() == 1
