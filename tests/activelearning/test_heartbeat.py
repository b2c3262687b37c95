"""POST /api/v1/heartbeat stores device and camera health."""

from __future__ import annotations

import pytest

from activelearning.health.models import DeviceTelemetry
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


FULL_HEALTH = {**HEALTH, "inference_fps": 9.5, "inference_ms_p50": 41.0, "inference_ms_p95": 88.0,
               "memory_used_bytes": 700_000_000, "memory_total_bytes": 2_000_000_000,
               "disk_total_bytes": 32_000_000_000, "outbox_oldest_age_seconds": 12.5, "crashes": 1,
               "watchdog_restarts": 1,
               "cameras": [{"name": "door-1", "status": "offline", "fps": 0.0, "inference_fps": 0.0,
                            "last_frame_age_seconds": 42.0, "message": "no frames for 42 s"}]}


def test_heartbeat_keeps_every_health_figure_on_the_device_and_as_a_telemetry_sample(kit):
    response = post(kit, FULL_HEALTH)
    assert response.status_code == 200, response.content
    device = Device.objects.get(pk=kit.device.pk)
    assert (device.inference_fps, device.memory_used_bytes, device.memory_total_bytes, device.disk_total_bytes,
            device.outbox_oldest_age_seconds, device.watchdog_restarts) == (9.5, 700_000_000, 2_000_000_000,
                                                                            32_000_000_000, 12.5, 1)
    sample = DeviceTelemetry.objects.get(device=kit.device)
    assert (sample.fps, sample.inference_fps, sample.inference_ms_p95, sample.memory_used_bytes,
            sample.disk_free_bytes, sample.outbox_depth, sample.outbox_oldest_age_seconds,
            sample.watchdog_restarts, sample.temperature_c) == (14.8, 9.5, 88.0, 700_000_000, 10_000_000, 3,
                                                                12.5, 1, 61.5)
    assert Camera.objects.get(name="door-1").status == {"status": "offline", "fps": 0.0, "inference_fps": 0.0,
                                                        "last_frame_age_seconds": 42.0,
                                                        "message": "no frames for 42 s"}


def test_a_heartbeat_without_figures_leaves_no_sample(kit):
    assert post(kit, {"software_version": "1.4.2"}).status_code == 200
    assert not DeviceTelemetry.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"inference_fps": -1}, "inference_fps"),
    ({"outbox_oldest_age_seconds": "old"}, "outbox_oldest_age_seconds"),
    ({"watchdog_restarts": 1.5}, "watchdog_restarts"),
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
