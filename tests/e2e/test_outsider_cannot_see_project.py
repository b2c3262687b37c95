"""charlie, a member of another project only, cannot see the project: it is not on his home page, its routes
show "not found" (nothing of it leaks onto the page), its API calls answer 404 and its live socket refuses
him."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from annotations.models import Camera
from tests.e2e.helpers import add_browser_member, post_events, queued_item, sign_in, upload
from tests.factories import jpeg_bytes, make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_member_of_another_project_gets_not_found_everywhere(page, app_server, make_user, screenshot):
    secret = make_project("secret-depot")
    secret.name = "Secret Depot"
    secret.save(update_fields=["name"])
    kit = make_device_kit(secret, camera="door-1")
    sha = upload(app_server.url, kit, jpeg_bytes(seed=11))
    item = queued_item(post_events(app_server.url, kit, [prediction_event("e-1", sha)])[0])
    camera = Camera.objects.get(site__project=secret, name="door-1")
    own = make_project("harbour-store")
    own_kit = make_device_kit(own, site="Harbour", camera="door-2")
    httpx.post(f"{app_server.url}/api/v1/heartbeat", headers={"Authorization": f"Bearer {own_kit.token}"},
               json={"software_version": "1.4.2", "fps": 14.8, "dropped_frames": 2, "outbox_depth": 0,
                     "disk_free_bytes": 12_500_000_000, "temperature_c": 51.5}).raise_for_status()
    password = add_browser_member(make_user, own, "charlie", "admin")  # admin of his own project only

    sign_in(page, "charlie", password)
    expect(page.get_by_test_id(f"project-link-{own.pk}")).to_be_visible()
    expect(page.get_by_test_id(f"project-link-{secret.pk}")).to_have_count(0)
    expect(page.get_by_test_id("project-list")).not_to_contain_text("Secret Depot")
    page.goto(f"/#/projects/{own.pk}/devices")  # his own project's pages work
    expect(page.get_by_test_id(f"device-{own_kit.device.pk}")).to_contain_text("online")
    screenshot(page, "devices")

    p = secret.pk
    for route in (f"#/projects/{p}", f"#/projects/{p}/work", f"#/projects/{p}/counts/{camera.pk}",
                  f"#/projects/{p}/qa/{item.pk}", f"#/projects/{p}/items/{item.pk}/history", f"#/projects/{p}/qa",
                  f"#/projects/{p}/counts", f"#/projects/{p}/models", f"#/projects/{p}/devices",
                  f"#/projects/{p}/webhooks"):
        page.goto(f"/{route}")
        expect(page.get_by_test_id("error").first).to_have_text("Not found.")
        expect(page.locator("main")).not_to_contain_text("Secret Depot")
        expect(page.locator("main")).not_to_contain_text(sha[:12])
    expect(page.get_by_test_id("ws-status")).to_have_text("Not allowed")  # the project's socket refused him
    page.goto(f"/#/projects/{p}/work")
    expect(page.get_by_test_id("claim-button")).to_be_disabled()

    # The API the app would call, with charlie's session: 404 with the error envelope, never 403 (no leak).
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    calls = [
        ("GET", f"/api/v1/projects/{p}/"),
        ("GET", f"/api/v1/items/{item.pk}/history"),
        ("GET", f"/api/v1/cameras/{camera.pk}/counts"),
        ("GET", f"/api/v1/cameras/{camera.pk}/count-flags"),
        ("GET", f"/api/v1/assets/{sha}"),
        ("GET", f"/api/v1/projects/{p}/items/"),
        ("GET", f"/api/v1/projects/{p}/cameras/"),
        ("GET", f"/api/v1/projects/{p}/devices/"),
        ("GET", f"/api/v1/projects/{p}/models/"),
        ("GET", f"/api/v1/projects/{p}/webhooks/"),
        ("GET", f"/api/v1/items/{item.pk}/prelabels"),
        ("POST", f"/api/v1/projects/{p}/queue/claim"),
        ("POST", f"/api/v1/items/{item.pk}/review"),
        ("POST", f"/api/v1/cameras/{camera.pk}/count-flags"),
    ]
    for method, path in calls:
        response = page.request.fetch(path, method=method, headers={"X-CSRFToken": csrf},
                                      data={} if method == "POST" else None)
        assert response.status == 404, (method, path, response.status, response.text()[:200])
        assert response.json()["error"]["code"] == "not_found", (method, path)
    listed = page.request.get("/api/v1/projects/").json()
    assert [project["id"] for project in listed] == [own.pk]
