"""A store manager on a tablet (768×1024, touch): the camera list shows only their site, the counts chart fits
the screen with nothing cut off sideways, and the flag form is reachable and usable by keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.models import Camera, Site
from tests.e2e.helpers import add_browser_member, post_events, sign_in
from tests.e2e.test_manager_flags_count_live import count_events
from tests.factories import make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_on_a_tablet_sees_their_cameras_and_a_chart_that_fits(browser, app_server, make_user, screenshot):
    project = make_project("store-counts")
    kit = make_device_kit(project, site="Main St", camera="door-1")
    make_device_kit(project, site="Harbour Rd", camera="door-9")
    post_events(app_server.url, kit, count_events())
    main_st = Site.objects.get(project=project, name="Main St")
    password = add_browser_member(make_user, project, "maria", "manager", sites=[main_st])
    camera = Camera.objects.get(site=main_st, name="door-1")

    tablet = browser.new_context(base_url=app_server.url, viewport={"width": 768, "height": 1024}, has_touch=True,
                                 is_mobile=True, device_scale_factor=2)
    try:
        page = tablet.new_page()
        sign_in(page, "maria", password, then=f"/#/projects/{project.pk}/counts")
        cameras = page.get_by_test_id("camera-list")
        expect(cameras).to_contain_text("door-1")
        expect(cameras).not_to_contain_text("door-9")  # another site's camera is not even listed
        page.get_by_test_id(f"camera-{camera.pk}").tap()
        expect(page.get_by_test_id("counts-chart").locator(".u-over")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the tablet"
        chart = page.get_by_test_id("counts-chart").bounding_box()
        assert chart is not None and chart["x"] >= 0 and chart["x"] + chart["width"] <= 768
        # The flag form by keyboard: focus the observed count, type, tab on; every field is labelled.
        count = page.get_by_test_id("flag-count")
        count.focus()
        page.keyboard.type("12")
        expect(count).to_have_value("12")
        for test_id in ("flag-from", "flag-to", "flag-count", "flag-note", "flag-submit"):
            field = page.get_by_test_id(test_id)
            expect(field).to_be_visible()
            assert field.evaluate("e => e.tagName === 'BUTTON' || !!(e.labels && e.labels.length)"), test_id
        screenshot(page, "counts-tablet")
    finally:
        tablet.close()
