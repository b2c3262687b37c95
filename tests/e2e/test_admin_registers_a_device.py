"""An admin registers a device on the devices page: its token is shown once with the edge command line, the
token works for a heartbeat, and after "Revoke" (confirmed) the same token is refused with 401."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from annotations.models import Device
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_registers_a_device_sees_its_token_once_and_revokes_it(page, app_server, make_user, screenshot):
    project = make_project("night-store")
    password = add_browser_member(make_user, project, "dana", "admin")
    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/devices")

    page.get_by_test_id("register-site").fill("Main St")
    page.get_by_test_id("register-name").fill("main-st-door")
    page.get_by_test_id("register-cameras").fill("door-1, tills")
    page.get_by_test_id("register-submit").click()
    token = page.get_by_test_id("issued-token-value").inner_text()
    expect(page.get_by_test_id("issued-command")).to_contain_text(
        f"loupe-edge run --server {app_server.url} --token-file /etc/loupe/token --data-dir /var/lib/loupe "
        "--camera door-1 --camera tills")
    device = Device.objects.get(project=project, name="main-st-door")
    expect(page.get_by_test_id(f"device-{device.pk}")).to_contain_text("never seen")
    screenshot(page, "device-registered")

    beat = httpx.post(f"{app_server.url}/api/v1/heartbeat", json={"software_version": "1.0"}, timeout=30,
                      headers={"Authorization": f"Bearer {token}"})
    assert beat.status_code == 200, beat.text
    page.get_by_test_id("issued-done").click()
    expect(page.get_by_test_id("issued-token")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(token)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"device-revoke-{device.pk}").click()
    expect(page.get_by_test_id("devices-notice")).to_have_text("Revoked main-st-door.")
    expect(page.get_by_test_id(f"device-{device.pk}")).to_contain_text("revoked")
    refused = httpx.post(f"{app_server.url}/api/v1/heartbeat", json={"software_version": "1.0"}, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
