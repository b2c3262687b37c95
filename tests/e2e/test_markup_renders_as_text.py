"""Markup in data renders as literal text and runs nothing: a project name, a label class and a note holding
`<img src=x onerror=alert(1)>` go through the home page, the editor (class picker, box list), the QA review
and the item history; no dialog opens, no <img src=x> element appears and nothing fetches `x`."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from annotations.models import Annotation
from tests.e2e.helpers import add_browser_member, post_events, queued_item, second_browser, sign_in, upload
from tests.factories import jpeg_bytes, make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

MARKUP = "<img src=x onerror=alert(1)>"


def watch(page: Page, dialogs: list[str], fetched: list[str]) -> None:
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: fetched.append(request.url) if request.url.rstrip("/").endswith("/x") else None)


def assert_inert(page: Page) -> None:
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0


def test_label_note_and_project_name_markup_render_as_text(browser, page, app_server, make_user):
    project = make_project("markup", classes=("person", MARKUP))
    project.name = f"Store {MARKUP}"
    project.qa_sample_rate = 1.0
    project.save(update_fields=["name", "qa_sample_rate"])
    kit = make_device_kit(project)
    sha = upload(app_server.url, kit, jpeg_bytes(640, 480, seed=5))
    event = prediction_event("e-1", sha)
    event["detections"] = [{"label": MARKUP, "score": 0.45, "box": [40.0, 60.0, 80.0, 160.0], "track_id": 1}]
    item = queued_item(post_events(app_server.url, kit, [event])[0])
    alice_pw = add_browser_member(make_user, project, "alice", "annotator")
    bob_pw = add_browser_member(make_user, project, "bob", "reviewer")
    dialogs: list[str] = []
    fetched: list[str] = []
    watch(page, dialogs, fetched)

    sign_in(page, "alice", alice_pw)
    expect(page.get_by_test_id(f"project-link-{project.pk}")).to_have_text(f"Store {MARKUP}")
    page.get_by_test_id(f"project-link-{project.pk}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Store {MARKUP}")
    page.goto(f"/#/projects/{project.pk}/work")
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("box-list")).to_contain_text(MARKUP)  # the pre-label's class
    expect(page.locator("label.class-option").nth(1)).to_contain_text(f"2 {MARKUP}")
    page.get_by_test_id("accept-all").click()
    page.keyboard.press("n")  # select the box, then class 2 (the markup one) from the keyboard
    page.keyboard.press("2")
    expect(page.get_by_test_id("selection-status")).to_contain_text(MARKUP)
    page.get_by_test_id("note").fill(f"note {MARKUP}")
    assert_inert(page)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    annotation = Annotation.objects.get(review_item_id=item.pk)
    assert annotation.note == f"note {MARKUP}" and annotation.boxes[0]["label"] == MARKUP

    reviewer = second_browser(browser, app_server.url)
    try:
        bob = reviewer.new_page()
        watch(bob, dialogs, fetched)
        sign_in(bob, "bob", bob_pw, then=f"/#/projects/{project.pk}/qa/{item.pk}")
        expect(bob.get_by_test_id("qa-note")).to_have_text(f"Note: note {MARKUP}")
        bob.get_by_test_id("qa-comment").fill(f"comment {MARKUP}")
        bob.get_by_test_id("qa-reject").click()
        expect(bob.get_by_test_id("qa-done")).to_contain_text("pending")
        assert_inert(bob)
        bob.goto(f"/#/projects/{project.pk}/items/{item.pk}/history")
        expect(bob.get_by_test_id("history-versions")).to_contain_text(f"note {MARKUP}")
        expect(bob.get_by_test_id("history-events")).to_contain_text(f"comment {MARKUP}")
        expect(bob.locator("main")).to_contain_text(f"last comment: comment {MARKUP}")
        assert_inert(bob)
    finally:
        reviewer.close()
    assert dialogs == [] and fetched == []
