"""POST /api/v1/heartbeat stores device and camera health."""

from __future__ import annotations

import pytest

from annotations.models import Camera, Device

pytestmark = pytest.mark.django_db

HEALTH = {"software_version": "1.4.2", "model_sha256": "a" * 64, "uptime_seconds": 3600,
          "disk_free_bytes": 10_000_000, "temperature_c": 61.5, "fps": 14.8, "dropped_frames": 12,
          "outbox_depth": 3, "cameras": [{"name": "door-1", "status": "ok", "fps": 14.8}]}


def post(kit, body):
    return kit.client.post("/api/v1/heartbeat", data=body, content_type="application/json", **kit.headers())


def test_heartbeat_stores_health_and_answers_with_server_time(kit):
    response = post(kit, HEALTH)
    assert response.status_code == 200, response.content
    assert response.json()["model"] is None
    assert response.json()["server_time"]
    device = Device.objects.get(pk=kit.device.pk)
    assert (device.software_version, device.temperature_c, device.outbox_depth) == ("1.4.2", 61.5, 3)
    assert device.last_seen_at is not None
    camera = Camera.objects.get(name="door-1")
    assert camera.status == {"status": "ok", "fps": 14.8}
    assert camera.last_seen_at is not None


@pytest.mark.parametrize(("change", "field"), [
    ({"temperature_c": "hot"}, "temperature_c"),
    ({"disk_free_bytes": -1}, "disk_free_bytes"),
    ({"model_sha256": "xyz"}, "model_sha256"),
    ({"cameras": [{"name": "door-1", "status": "on fire"}]}, "cameras"),
])
def test_invalid_heartbeat_is_400_and_stores_nothing(kit, change, field):
    response = post(kit, {**HEALTH, **change})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["details"]
    assert Device.objects.get(pk=kit.device.pk).software_version == ""


def test_heartbeat_for_a_camera_that_is_not_the_devices_is_422(kit):
    response = post(kit, {**HEALTH, "cameras": [{"name": "door-1", "status": "ok"},
                                                {"name": "other", "status": "ok"}]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_camera"
    assert Device.objects.get(pk=kit.device.pk).software_version == ""
    assert Camera.objects.get(name="door-1").status == {}


def test_heartbeat_needs_a_device_token(kit):
    response = kit.client.post("/api/v1/heartbeat", data=HEALTH, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_malformed_heartbeat_json_is_400(kit):
    response = kit.client.post("/api/v1/heartbeat", data=b"{oops", content_type="application/json",
                               **kit.headers())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
