"""The count-flag loop, person by person (issue 13, defect 6): a store manager flags a 75-minute window that
does not sit on the chart's hour buckets (where the old form summed whole buckets and showed another number
than the flag stored); an annotator sees the note, both counts and the window's frames, steps through them
and enters the true count; QA sees the manager's numbers and accepts; the manager sees the outcome on the
flag and the window shaded on the chart. The stored rows are checked at every step."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotations.models import Annotation, Camera, Site
from loupe_synthetic.scenes import encode_jpeg, render_scene
from reviewer.flags import review_context
from reviewer.models import CountFlag, ItemStatus, Reason
from tests.e2e.helpers import add_browser_member, post_events, upload
from tests.factories import make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

OBSERVED, TRUE_COUNT = 40, 38
NOTE = "School group came in at once; the camera missed the ones behind the pushchairs"


def local(moment: dt.datetime) -> str:
    """`<input type="datetime-local">` in the browser's zone (the contexts here run in UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


def test_a_flag_is_counted_alike_reviewed_in_the_browser_and_its_outcome_shown(browser, app_server, make_user,
                                                                                screenshot):
    project = make_project("store-counts")
    project.qa_sample_rate = 1.0  # the annotator's count waits for QA
    project.save(update_fields=["qa_sample_rate"])
    kit = make_device_kit(project, site="Main St", camera="door-1")
    camera = Camera.objects.get(site__project=project, name="door-1")
    hour = (timezone.now() - dt.timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    start, end = hour + dt.timedelta(minutes=20), hour + dt.timedelta(minutes=95)  # 75 minutes, off the buckets
    counts = [(-10, 9), (0, 10), (30, 12), (50, 7), (74, 5), (80, 18)]  # minutes after start, value
    post_events(app_server.url, kit, [
        {"id": f"count-{i}", "type": "count", "camera": "door-1", "count": {"name": "in", "value": value},
         "captured_at": (start + dt.timedelta(minutes=minutes)).isoformat()}
        for i, (minutes, value) in enumerate(counts)])
    frames = []
    for i, minutes in enumerate((5, 25, 55)):
        scene = render_scene("store", 10 + i, width=640, height=480, crowd=1 + i)
        frames.append(upload(app_server.url, kit, encode_jpeg(scene.image)))
        event = prediction_event(f"frame-{i}", frames[-1], score=0.97,
                                 captured_at=(start + dt.timedelta(minutes=minutes)).isoformat())
        event.pop("reason")
        post_events(app_server.url, kit, [event])
    in_window = sum(value for minutes, value in counts if 0 <= minutes < 75)
    whole_buckets = sum(value for minutes, value in counts if start <= (start + dt.timedelta(minutes=minutes)).replace(
        minute=0) < end)  # what the old form added up: every hour bucket that starts inside the window
    assert (in_window, whole_buckets) == (34, 30)
    main_st = Site.objects.get(project=project, name="Main St")
    passwords = {"maria": add_browser_member(make_user, project, "maria", "manager", sites=[main_st]),
                 "alice": add_browser_member(make_user, project, "alice", "annotator"),
                 "bob": add_browser_member(make_user, project, "bob", "reviewer")}

    def person(name: str):  # each in their own browser, in UTC so typed times mean what they say
        context = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 800},
                                      timezone_id="UTC")
        context.set_default_timeout(10_000)
        page = context.new_page()
        # The sign-in form, as helpers.sign_in, with room for the password hash on a busy CI machine.
        page.goto("/#/login")
        page.get_by_test_id("login-username").fill(name)
        page.get_by_test_id("login-password").fill(passwords[name])
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("project-list")).to_be_visible(timeout=30_000)
        return context, page

    contexts = []
    try:
        # 1. The manager opens the camera's counts and flags the window with the count seen and a note.
        manager_context, maria = person("maria")
        contexts.append(manager_context)
        maria.goto(f"/#/projects/{project.pk}/counts/{camera.pk}")
        expect(maria.get_by_test_id("counts-chart").locator(".u-over")).to_be_visible()
        maria.get_by_test_id("flag-from").fill(local(start))
        maria.get_by_test_id("flag-to").fill(local(end))
        expect(maria.get_by_test_id("model-count")).to_contain_text(f"Model count in this window: {in_window}")
        expect(maria.get_by_test_id("model-count")).to_contain_text("3 frames or clips")
        maria.get_by_test_id("flag-count").fill(str(OBSERVED))
        maria.get_by_test_id("flag-note").fill(NOTE)
        screenshot(maria, "count-flag-form")
        maria.get_by_test_id("flag-submit").click()
        expect(maria.get_by_test_id("flag-sent")).to_contain_text(f"the model counted {in_window}, you saw {OBSERVED}")

        flag = CountFlag.objects.select_related("review_item").get(camera=camera)
        item = flag.review_item
        assert (flag.window_start, flag.window_end, flag.observed_count, flag.model_count, flag.note) == (
            start, end, OBSERVED, in_window, NOTE)
        assert (flag.status, flag.reviewed_count, flag.flagged_by.username) == ("open", None, "maria")
        assert flag.assets == frames
        assert (item.reason, item.status, item.asset.sha256) == (Reason.COUNT_FLAG, ItemStatus.PENDING, frames[0])
        assert item.score_parts["model_count"] == in_window
        context_payload = review_context(item=item)
        assert context_payload is not None and context_payload["model_count"] == in_window
        expect(maria.get_by_test_id(f"flag-outcome-{flag.pk}")).to_contain_text("Waiting for review")
        expect(maria.get_by_test_id(f"flag-band-{flag.pk}")).to_have_class("flag-band flag-band-open")

        # 2. The annotator claims count flags: the note, both counts, the window and its frames to step through.
        annotator_context, alice = person("alice")
        contexts.append(annotator_context)
        alice.goto(f"/#/projects/{project.pk}/work")
        alice.get_by_test_id("claim-reason").select_option("count_flag")
        alice.get_by_test_id("claim-button").click()
        expect(alice.get_by_test_id("flag-review")).to_be_visible()
        expect(alice.get_by_test_id("flag-review-note")).to_have_text(NOTE)
        expect(alice.get_by_test_id("flag-numbers-observed")).to_have_text(str(OBSERVED))
        expect(alice.get_by_test_id("flag-numbers-model")).to_have_text(str(in_window))
        expect(alice.get_by_test_id("flag-review-window")).to_contain_text("(75 min)")
        expect(alice.get_by_test_id("flag-review-position")).to_contain_text("Frame 1 of 3")
        alice.keyboard.press("ArrowRight")
        expect(alice.get_by_test_id("flag-review-position")).to_contain_text("Frame 2 of 3")
        expect(alice.get_by_test_id("flag-review-frame")).to_have_attribute("data-sha256", frames[1])
        alice.keyboard.press("ArrowRight")
        expect(alice.get_by_test_id("flag-review-frame")).to_have_attribute("data-sha256", frames[2])
        alice.wait_for_function("() => document.querySelector('[data-testid=flag-review-frame]').naturalWidth > 0")
        screenshot(alice, "count-flag-review")
        alice.get_by_test_id("flag-review-count").fill(str(TRUE_COUNT))
        alice.get_by_test_id("flag-review-submit").click()
        expect(alice.get_by_test_id("queue-empty")).to_be_visible()

        item.refresh_from_db()
        flag.refresh_from_db()
        version = Annotation.objects.get(review_item_id=item.pk)
        assert (version.author.username, version.count, version.boxes, version.verdict) == (
            "alice", TRUE_COUNT, [], "correct")
        assert item.status == ItemStatus.SUBMITTED and item.lease_holder_id is None
        assert (flag.status, flag.reviewed_count) == ("open", None)  # not settled until QA accepts

        # 3. QA sees the manager's numbers and the annotator's count (no box agreement), and accepts.
        qa_context, bob = person("bob")
        contexts.append(qa_context)
        bob.goto(f"/#/projects/{project.pk}/qa/{item.pk}")
        expect(bob.get_by_test_id("qa-flag-numbers-observed")).to_have_text(str(OBSERVED))
        expect(bob.get_by_test_id("qa-flag-numbers-model")).to_have_text(str(in_window))
        expect(bob.get_by_test_id("qa-flag-numbers-reviewed")).to_have_text(str(TRUE_COUNT))
        expect(bob.get_by_test_id("qa-flag-note")).to_have_text(NOTE)
        expect(bob.get_by_test_id("qa-agreement-prelabel")).to_have_count(0)
        screenshot(bob, "count-flag-qa")
        bob.get_by_test_id("qa-accept").click()
        expect(bob.get_by_test_id("qa-done")).to_contain_text("accepted")

        item.refresh_from_db()
        flag.refresh_from_db()
        assert item.status == ItemStatus.ACCEPTED and item.accepted_at is not None
        assert (flag.status, flag.reviewed_count, flag.reviewed_at) == ("reviewed", TRUE_COUNT, item.accepted_at)

        # 4. The manager sees what the review concluded, on the flag and on the chart (the page hears it live).
        expect(maria.get_by_test_id(f"flag-outcome-{flag.pk}")).to_contain_text(f"true count {TRUE_COUNT}")
        expect(maria.get_by_test_id(f"flag-counts-{flag.pk}")).to_contain_text(
            f"saw {OBSERVED} · model {in_window} · review {TRUE_COUNT}")
        band = maria.get_by_test_id(f"flag-band-{flag.pk}")
        expect(band).to_have_class("flag-band flag-band-reviewed")
        expect(band).to_contain_text(f"reviewed: {TRUE_COUNT}")
        maria.evaluate("window.scrollTo(0, 0)")
        screenshot(maria, "count-flag-outcome")
    finally:
        for context in contexts:
            context.close()
