"""An annotator's leases as a person uses the app: reloading the tab brings the same item back and never piles
up leases, skip moves on to other work and remembers, and rejected work comes back to its author starting
from the rejected version with the reviewer's comment on top. Each step checks the stored rows."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from annotations.models import Annotation
from loupe_synthetic.scenes import encode_jpeg, render_scene
from reviewer.models import ItemSkip, ItemStatus, ReviewItem
from reviewer.services import decide_review
from tests.e2e.helpers import add_browser_member, post_events, queued_item, sign_in, upload
from tests.factories import make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)


def queue_frames(server_url: str, project, n: int) -> list[ReviewItem]:
    kit = make_device_kit(project)
    items = []
    for i in range(n):
        scene = render_scene("store", 10 + i, width=320, height=240, crowd=2)
        sha = upload(server_url, kit, encode_jpeg(scene.image))
        event = prediction_event(f"frame-{i}", sha, score=0.8)
        event["detections"] = [{"label": "person", "score": 0.8, "box": list(b.box)} for b in scene.boxes]
        items.append(queued_item(post_events(server_url, kit, [event])[0]))
    return items


def item_on_screen(page: Page) -> int:
    label = page.get_by_test_id("editor-canvas").get_attribute("aria-label") or ""
    match = re.search(r"Item (\d+)", label)
    assert match, label
    return int(match.group(1))


def leases_of(username: str) -> list[ReviewItem]:
    return list(ReviewItem.objects.filter(status=ItemStatus.LEASED, lease_holder__username=username).order_by("id"))


def wait_for_prefetch(page: Page, username: str) -> None:
    """The app claims the next item ahead once the current one is on screen; wait until the server has it."""
    for _ in range(100):
        if any(i.lease_prefetch for i in leases_of(username)):
            return
        page.wait_for_timeout(100)  # polling the database, not timing the app
    raise AssertionError("the next item was never claimed ahead")


def leave_quietly(page: Page, username: str) -> None:
    """Close the work page as a person does and wait until its prefetched lease is given back (pagehide), so
    no request of the app is still running when the test database is flushed."""
    page.goto("about:blank")
    for _ in range(100):
        if not any(i.lease_prefetch for i in leases_of(username)):
            return
        page.wait_for_timeout(100)  # polling the database, not timing the app
    raise AssertionError("the prefetched lease was not given back when the page went away")


def test_reloading_brings_the_same_item_back_without_piling_up_leases(page, app_server, make_user, screenshot):
    project = make_project("reload-shop", classes=("person",))
    queue_frames(app_server.url, project, 4)
    password = add_browser_member(make_user, project, "alice", "annotator")
    sign_in(page, "alice", password, then=f"/#/projects/{project.pk}/work")
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("editor-canvas")).to_be_visible()
    first = item_on_screen(page)
    wait_for_prefetch(page, "alice")

    for reload in range(2):
        page.reload()
        expect(page.get_by_test_id("editor-canvas")).to_be_visible()  # no claim button: the tab resumes
        assert item_on_screen(page) == first, f"reload {reload + 1} brought another item"
        wait_for_prefetch(page, "alice")
        held = leases_of("alice")
        current = [i for i in held if not i.lease_prefetch]
        assert [i.pk for i in current] == [first]
        assert len(held) == 2, "one current item and at most one prefetched item, whatever the reloads"
    screenshot(page, "annotator-after-reload")
    leave_quietly(page, "alice")
    assert [i.pk for i in leases_of("alice")] == [first], "closing the tab keeps the current item for a reload"


def test_skip_moves_on_and_the_skipped_item_goes_to_someone_else(page, app_server, make_user, browser):
    project = make_project("skip-shop", classes=("person",))
    queue_frames(app_server.url, project, 3)
    password = add_browser_member(make_user, project, "alice", "annotator")
    add_browser_member(make_user, project, "erin", "annotator")
    sign_in(page, "alice", password, then=f"/#/projects/{project.pk}/work")
    page.get_by_test_id("claim-button").click()
    seen = [item_on_screen(page)]
    for _ in range(2):
        page.get_by_test_id("editor-canvas").focus()
        page.get_by_test_id("skip").click()
        # The editor asks why (optional): skipping without a reason is one more click (or Enter).
        page.get_by_test_id("skip-confirm").click()
        expect(page.get_by_test_id("editor-canvas")).not_to_have_attribute("aria-label", re.compile(
            rf"^Item {seen[-1]}:"))
        seen.append(item_on_screen(page))
    assert len(set(seen)) == 3, f"skip handed back an item already skipped: {seen}"
    assert sorted(ItemSkip.objects.filter(user__username="alice").values_list("review_item_id", flat=True)) == \
        sorted(seen[:2])
    for skipped in seen[:2]:
        assert ReviewItem.objects.get(pk=skipped).status == ItemStatus.PENDING
    leave_quietly(page, "alice")


def test_rejected_work_comes_back_to_its_author_from_the_rejected_version(page, app_server, make_user,
                                                                         screenshot):
    project = make_project("rework-shop", classes=("person",))
    project.qa_sample_rate = 1.0
    project.save(update_fields=["qa_sample_rate"])
    item = queue_frames(app_server.url, project, 1)[0]
    password = add_browser_member(make_user, project, "alice", "annotator")
    add_browser_member(make_user, project, "bob", "reviewer")
    sign_in(page, "alice", password, then=f"/#/projects/{project.pk}/work")
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("box-list").locator("li")).to_have_count(2)
    page.get_by_test_id("editor-canvas").focus()
    page.keyboard.press("b")  # alice adds a third box
    expect(page.get_by_test_id("box-list").locator("li")).to_have_count(3)
    page.keyboard.press("s")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    rejected_version = Annotation.objects.get(review_item_id=item.pk)
    assert len(rejected_version.boxes) == 3

    decide_review(item=item, user=User.objects.get(username="bob"), decision="reject",
                  comment="the third box is on a shelf, not a person",
                  region={"box": rejected_version.boxes[2]["box"], "frame_index": None})
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("last-comment")).to_contain_text("the third box is on a shelf")
    assert item_on_screen(page) == item.pk
    expect(page.get_by_test_id("box-list").locator("li")).to_have_count(3)  # her version, not the pre-label
    screenshot(page, "annotator-rework")
    held = ReviewItem.objects.get(pk=item.pk)
    assert held.lease_holder.username == "alice" and held.rework_from_id == rejected_version.pk
    leave_quietly(page, "alice")
