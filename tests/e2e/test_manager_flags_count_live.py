"""A store manager scoped to one site picks a window on a camera's counts chart, enters the count they saw and
flags it; an annotator with the project dashboard open in another browser sees the flag arrive live over the
WebSocket, without reloading."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotations.models import Camera, Site
from reviewer.models import CountFlag, Reason
from tests.e2e.helpers import add_browser_member, post_events, second_browser, sign_in
from tests.factories import make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)

OBSERVED = 31


def count_events(hours: int = 8) -> list[dict[str, object]]:
    """Hourly boarding counts from the door camera over the last `hours` hours."""
    now = timezone.now()  # always in the past: the device API refuses events from the future
    return [
        {"id": f"count-{h}", "type": "count", "camera": "door-1", "count": {"name": "in", "value": 10 + 3 * (h % 4)},
         "captured_at": (now - dt.timedelta(hours=h, minutes=5)).isoformat()}
        for h in range(hours)
    ]


def test_manager_flags_a_window_and_an_annotator_sees_it_live(browser, page, app_server, make_user, screenshot):
    project = make_project("store-counts")
    kit = make_device_kit(project, site="Main St", camera="door-1")
    make_device_kit(project, site="Harbour Rd", camera="door-9")  # another site the manager may not see
    post_events(app_server.url, kit, count_events())
    camera = Camera.objects.get(site__project=project, name="door-1")
    other_camera = Camera.objects.get(site__project=project, name="door-9")
    main_st = Site.objects.get(project=project, name="Main St")
    manager_pw = add_browser_member(make_user, project, "maria", "manager", sites=[main_st])
    annotator_pw = add_browser_member(make_user, project, "alice", "annotator")

    # The annotator's browser: the project's dashboard, connected live.
    annotator_context = second_browser(browser, app_server.url)
    try:
        annotator = annotator_context.new_page()
        sign_in(annotator, "alice", annotator_pw, then=f"/#/projects/{project.pk}")
        expect(annotator.get_by_test_id("ws-status")).to_have_text("Live")
        expect(annotator.get_by_test_id("flag-toast")).to_have_count(0)

        # The manager: counts of their camera; a camera of another site is not found for them.
        sign_in(page, "maria", manager_pw, then=f"/#/projects/{project.pk}/counts/{other_camera.pk}")
        expect(page.get_by_test_id("error").first).to_contain_text("Not found")
        page.goto(f"/#/projects/{project.pk}/counts/{camera.pk}")
        chart = page.get_by_test_id("counts-chart")
        expect(chart.locator(".u-over")).to_be_visible()
        expect(page.get_by_test_id("ws-status")).to_have_text("Live")

        # Pick the window by dragging across the last hours of the chart (uPlot's drag selection).
        over = chart.locator(".u-over").bounding_box()
        assert over is not None
        y = over["y"] + over["height"] / 2
        page.mouse.move(over["x"] + over["width"] * 0.80, y)
        page.mouse.down()
        page.mouse.move(over["x"] + over["width"] * 0.97, y, steps=8)
        page.mouse.up()
        expect(page.get_by_test_id("flag-from")).not_to_have_value("")
        expect(page.get_by_test_id("flag-to")).not_to_have_value("")
        expect(page.get_by_test_id("model-count")).to_contain_text(":")
        expect(page.get_by_test_id("model-count")).not_to_contain_text("–")
        expect(page.get_by_test_id("model-count")).not_to_contain_text("…")
        page.get_by_test_id("flag-count").fill(str(OBSERVED))
        page.get_by_test_id("flag-note").fill("Queue at the door, the camera missed the pushchairs")
        page.get_by_test_id("flag-submit").click()
        expect(page.get_by_test_id("flag-sent")).to_contain_text(f"you saw {OBSERVED}")

        flag = CountFlag.objects.get(camera=camera)
        expect(page.get_by_test_id(f"flag-status-{flag.pk}")).to_contain_text("open")
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "counts-chart")
        assert flag.observed_count == OBSERVED and flag.flagged_by.username == "maria"
        assert flag.window_end - flag.window_start <= dt.timedelta(hours=6)
        assert flag.window_start < flag.window_end <= timezone.now()
        assert flag.review_item.reason == Reason.COUNT_FLAG
        # The number the form showed is the number the flag stored and its review item carries.
        model_text = page.get_by_test_id("model-count").text_content() or ""
        assert flag.model_count is not None and flag.model_count > 0, model_text
        assert f"Model count in this window: {flag.model_count} " in model_text, model_text
        assert flag.review_item.score_parts["model_count"] == flag.model_count
        # The drag picked whole hour buckets: the window the chart showed selected is the one stored.
        assert flag.window_start.minute == flag.window_start.second == 0
        assert flag.window_end.minute == flag.window_end.second == 0

        # The annotator's page hears about it without a reload.
        toast = annotator.get_by_test_id("flag-toast")
        expect(toast).to_have_count(1)
        expect(toast).to_contain_text(f"New count flag #{flag.pk} on camera {camera.pk}: observed {OBSERVED}")
        expect(annotator.get_by_test_id("live-feed")).to_contain_text(f"{flag.pk}")
        expect(annotator.get_by_test_id("stat-pending")).to_have_text("1")
        assert annotator.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
        screenshot(annotator, "flag-toast")
    finally:
        annotator_context.close()
