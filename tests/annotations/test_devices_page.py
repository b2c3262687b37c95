"""`GET /api/v1/projects/{id}/devices/`: the devices page for project admins (last seen, health, versions)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotations.services import create_device, revoke_device
from tests.factories import add_member, as_user, make_device_kit, make_project

pytestmark = pytest.mark.django_db

HEALTH = {"software_version": "1.4.2", "model_sha256": "a" * 64, "uptime_seconds": 3600,
          "disk_free_bytes": 10_000_000, "temperature_c": 61.5, "fps": 14.8, "dropped_frames": 12,
          "outbox_depth": 3, "cameras": [{"name": "door-1", "status": "ok", "fps": 14.8}]}


@pytest.fixture
def kit():
    kit = make_device_kit()
    add_member(kit.project, "dana", "admin")
    add_member(kit.project, "alice", "annotator")
    add_member(make_project("bus-boarding"), "charlie", "admin")
    return kit


def test_admin_sees_each_device_with_site_cameras_health_and_versions(kit):
    heartbeat = kit.client.post("/api/v1/heartbeat", data=HEALTH, content_type="application/json", **kit.headers())
    assert heartbeat.status_code == 200
    other = create_device(project=kit.project, site_name="Depot", camera_names=["gate-a", "gate-b"],
                          site_kind="depot").device
    revoke_device(device=other)
    response = as_user("dana").get(f"/api/v1/projects/{kit.project.pk}/devices/")
    assert response.status_code == 200
    depot, main = response.json()  # ordered by site, then name
    assert main["name"] == kit.device.name and main["site"]["name"] == "Main St"
    assert main["software_version"] == "1.4.2" and main["model_sha256"] == "a" * 64
    assert main["last_seen_at"] is not None and main["revoked"] is False and main["revoked_at"] is None
    assert main["health"] == {"uptime_seconds": 3600, "disk_free_bytes": 10_000_000, "temperature_c": 61.5,
                              "fps": 14.8, "dropped_frames": 12, "outbox_depth": 3, "inference_fps": None,
                              "inference_ms_p50": None, "inference_ms_p95": None, "memory_used_bytes": None,
                              "memory_total_bytes": None, "disk_total_bytes": None,
                              "outbox_oldest_age_seconds": None, "crashes": None, "watchdog_restarts": None}
    assert [(c["name"], c["status"]) for c in main["cameras"]] == [("door-1", {"status": "ok", "fps": 14.8})]
    assert main["token_prefix"] == kit.token[:10] and "token_hash" not in main
    assert depot["site"] == {"id": other.site_id, "name": "Depot", "kind": "depot"}
    assert [c["name"] for c in depot["cameras"]] == ["gate-a", "gate-b"]
    assert depot["revoked"] is True and depot["last_seen_at"] is None
    assert depot["health"]["temperature_c"] is None


def test_other_roles_get_403_and_outsiders_404(kit):
    url = f"/api/v1/projects/{kit.project.pk}/devices/"
    forbidden = as_user("alice").get(url)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    hidden = as_user("charlie").get(url)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    assert as_user("dana").get("/api/v1/projects/999999/devices/").status_code == 404
    assert APIClient().get(url).status_code == 401


def test_query_count_does_not_grow_with_devices(kit, django_assert_num_queries):
    url = f"/api/v1/projects/{kit.project.pk}/devices/"
    dana = as_user("dana")
    # membership + project, devices + sites, cameras
    with django_assert_num_queries(3):
        assert len(dana.get(url).json()) == 1
    for i in range(10):
        create_device(project=kit.project, site_name=f"Store {i}", camera_names=["door-1", "door-2"])
    with django_assert_num_queries(3):
        assert len(dana.get(url).json()) == 11
