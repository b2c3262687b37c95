"""A project admin watches the queue dashboard's progress to retraining while QA accepts items, across two
retrains: the bar restarts at 0 each time a dataset version is frozen instead of sitting at 100 % (every
acceptance ever over the threshold) once the first retrain has happened. Every acceptance is the reviewer's,
in the QA screen, so the server itself freezes each version after the commit that crossed the threshold.
The feed hears each acceptance live, and the progress follows without a reload (the page re-reads the project's
figures on `item.accepted`); a reload shows the same figures."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from activelearning.datasets.models import DatasetVersion
from activelearning.training.models import RetrainRequest, RetrainState, TrainingRun
from loupe_synthetic.scenes import encode_jpeg, render_scene
from reviewer.models import ItemStatus, ReviewItem
from tests.e2e.helpers import add_browser_member, post_events, second_browser, sign_in, upload
from tests.factories import as_user, make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

THRESHOLD = 3
PERSON = [60.0, 100.0, 80.0, 200.0]


@pytest.fixture(scope="session")
def retrain_server(start_server):
    """The app dispatching retrain requests right after the commit that crossed the threshold (embedded mode:
    no worker process in the test), and leaving the queued training runs unstarted, as the other tests do."""
    return start_server(LOUPE_CELERY_EAGER="true", LOUPE_TRAINING_AUTOSTART="false")


def seed_submitted_items(project, server_url: str, n: int) -> list[ReviewItem]:
    """`n` frames from the device, each submitted by alice through the API (this journey is QA's and the
    admin's), in the order submitted."""
    kit = make_device_kit(project)
    for i in range(n):
        sha = upload(server_url, kit, encode_jpeg(render_scene("store", 30 + i, width=640, height=480, crowd=1).image))
        event = prediction_event(f"frame-{i}", sha)
        event["detections"] = [{"label": "person", "score": 0.45, "box": PERSON}]
        post_events(server_url, kit, [event])
    items = []
    for _ in range(n):
        served = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json").json()
        body = {"lease_token": served["lease_token"], "boxes": [{"label": "person", "box": PERSON}],
                "verdict": "correct"}
        response = as_user("alice").post(f"/api/v1/items/{served['id']}/submit", body, format="json")
        assert response.json()["item_status"] == "submitted"
        items.append(ReviewItem.objects.get(pk=served["id"]))
    return items


def accept_in_qa(bob: Page, admin: Page, items: list[ReviewItem]) -> None:
    """bob opens each item in the QA screen and accepts it; the admin's open dashboard hears each one live."""
    for item in items:
        bob.goto(f"/#/projects/{item.project_id}/qa/{item.pk}")
        expect(bob.get_by_test_id("qa-accept")).to_have_text("Accept (a)")
        bob.get_by_test_id("qa-accept").click()
        expect(bob.get_by_test_id("qa-done")).to_contain_text(f"Item {item.pk} is now accepted.")
        expect(admin.get_by_test_id("live-feed")).to_contain_text(f"Item {item.pk} accepted")


def expect_progress(admin: Page, accepted_since: int, value: float, *, reload: bool = False) -> None:
    """What the admin reads on the dashboard, live or after a reload: "(n / threshold)" and the bar's value."""
    if reload:
        admin.reload()
        expect(admin.get_by_test_id("ws-status")).to_have_text("Live")  # the feed hears what happens next
    bar = admin.get_by_test_id("threshold-progress")
    expect(bar.locator("xpath=..")).to_have_text(f"Progress to retraining ({accepted_since} / {THRESHOLD})")
    expect(bar).to_have_attribute("max", "1")
    # The DOM property, not the attribute: what the bar draws (1 is a full bar). The API's float, unrounded.
    expect(bar).to_have_js_property("value", value)


def test_progress_restarts_at_each_retrain_as_the_admin_watches(browser, retrain_server, make_user, screenshot):
    project = make_project("store-retrain-progress")
    project.retrain_threshold = THRESHOLD
    project.qa_sample_rate = 1.0  # every submit waits for QA
    project.save(update_fields=["retrain_threshold", "qa_sample_rate"])
    add_browser_member(make_user, project, "alice", "annotator")
    bob_pw = add_browser_member(make_user, project, "bob", "reviewer")
    dana_pw = add_browser_member(make_user, project, "dana", "admin")
    items = seed_submitted_items(project, retrain_server.url, 6)

    admin_browser = second_browser(browser, retrain_server.url)
    reviewer_browser = second_browser(browser, retrain_server.url)
    try:
        dana, bob = admin_browser.new_page(), reviewer_browser.new_page()
        sign_in(dana, "dana", dana_pw, then=f"/#/projects/{project.pk}")
        sign_in(bob, "bob", bob_pw)
        expect_progress(dana, 0, 0.0, reload=True)

        accept_in_qa(bob, dana, items[:2])
        expect_progress(dana, 2, 2 / 3)

        accept_in_qa(bob, dana, items[2:3])  # the third: the first retrain, the version frozen by the server
        assert DatasetVersion.objects.filter(project=project).count() == 1
        expect_progress(dana, 0, 0.0)

        accept_in_qa(bob, dana, items[3:5])
        expect_progress(dana, 2, 2 / 3)  # two since the retrain, not all five accepted over three (100 %)
        assert ReviewItem.objects.filter(project=project, status=ItemStatus.ACCEPTED).count() == 5
        dana.get_by_test_id("threshold-progress").scroll_into_view_if_needed()
        screenshot(dana, "retrain-progress")

        accept_in_qa(bob, dana, items[5:])  # the second retrain
        expect_progress(dana, 0, 0.0)
        expect_progress(dana, 0, 0.0, reload=True)  # what the server says, not only what the page worked out
    finally:
        admin_browser.close()
        reviewer_browser.close()

    assert ReviewItem.objects.filter(project=project, status=ItemStatus.ACCEPTED).count() == 6
    requests = list(RetrainRequest.objects.filter(project=project).order_by("epoch"))
    assert [(r.epoch, r.trigger, r.accepted_count) for r in requests] == [(0, "threshold", 3), (1, "threshold", 3)]
    assert all(r.dispatched_at is not None for r in requests)
    versions = list(DatasetVersion.objects.filter(project=project).order_by("number"))
    assert [(v.number, v.request_id, v.stats["items"]) for v in versions] == [
        (1, requests[0].pk, 3), (2, requests[1].pk, 6)]
    assert versions[1].parent_id == versions[0].pk
    state = RetrainState.objects.get(project=project)
    assert (state.epoch, state.accepted_since) == (2, 0)
    # Training autostart is off here: each version waits in one queued run.
    assert sorted(TrainingRun.objects.filter(project=project).values_list("dataset_version__number", "status")) == [
        (1, "queued"), (2, "queued")]
