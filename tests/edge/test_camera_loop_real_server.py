"""`loupe-edge run --camera door-1=<video>` against the real server (uvicorn + Django + PostgreSQL in another
process): the model comes over the air, frames are read through OpenCV, inferred in the watchdogged child, the
unsure ones arrive as predictions to review, and the heartbeat's health lands on the device and its camera.
Then a camera's offline and resumed states, sent by the client's own heartbeat, are what the server stores."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotations.models import Camera as CameraRow
from annotations.models import Device, Prediction
from edge.backoff import Backoff
from edge.camera import OFFLINE, OK, Camera
from edge.device import DeviceState, http_client
from edge.heartbeat import Health, send_heartbeat
from tests.edge.camera_kit import Tap, wait_until
from tests.edge.test_camera import write_video
from tests.factories import add_member, make_device_kit
from tests.onnx_models import fixed_detector_bytes
from tests.server import ROOT, LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


def promote(kit, data: bytes) -> str:
    admin = APIClient()
    admin.force_authenticate(add_member(kit.project, "dana", "admin"))
    uploaded = admin.post(f"/api/v1/projects/{kit.project.pk}/models/", {
        "file": SimpleUploadedFile("model.onnx", data), "name": "people-det"}, format="multipart")
    assert uploaded.status_code == 201, uploaded.json()
    model = uploaded.json()
    promoted = admin.post(f"/api/v1/models/{model['id']}/promote", {"to": "champion"}, format="json")
    assert promoted.status_code == 200, promoted.json()
    return model["sha256"]


def test_the_camera_loop_captures_unsure_frames_and_reports_its_health(postgres, _media_root, tmp_path):
    kit = make_device_kit()
    sha256 = promote(kit, fixed_detector_bytes([(32, 32, 20, 40, 0.3)]))  # one person, always unsure
    video = write_video(tmp_path / "door.avi", 12)
    token = tmp_path / "token"
    token.write_text(kit.token)
    with LiveServer(_media_root) as server:
        client = subprocess.Popen(  # noqa: S603  (fixed argv: our own CLI)
            [sys.executable, "-m", "edge.cli", "run", "--server", server.url, "--token-file", str(token),
             "--data-dir", str(tmp_path / "device"), "--camera", f"door-1={video}", "--camera-offline-after", "0.5",
             "--detector-timeout", "5", "--heartbeat-every", "0.5", "--model-every", "1", "--audit-rate", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            def arrived() -> bool:
                device = Device.objects.get(pk=kit.device.pk)
                return (Prediction.objects.filter(device=device).count() >= 3 and device.inference_ms_p50 is not None
                        and device.model_sha256 == sha256)
            wait_until(arrived, within=120, what="predictions and inference figures from the camera loop")
        finally:
            client.send_signal(signal.SIGINT)
            output = client.communicate(timeout=60)[0]
    assert client.returncode == 0, output
    predictions = Prediction.objects.filter(device=kit.device)
    assert {p.reason for p in predictions} == {"low_confidence"}
    assert all(p.asset_id is not None and p.model_sha256 == sha256 for p in predictions)
    device = Device.objects.get(pk=kit.device.pk)
    assert device.inference_fps is not None and device.inference_ms_p95 >= device.inference_ms_p50 > 0
    assert device.memory_total_bytes > 0 and device.disk_total_bytes > 0
    assert device.watchdog_restarts == 0
    status = CameraRow.objects.get(device=kit.device, name="door-1").status
    assert status["status"] in (OK, OFFLINE, "degraded") and "fps" in status and "inference_fps" in status


def test_an_offline_camera_and_its_return_are_what_the_server_stores(postgres, _media_root, tmp_path):
    kit = make_device_kit()
    tap = Tap()
    camera = Camera("door-1", tap.open, offline_after=0.3, backoff=Backoff(base=0.05, cap=0.1)).start()
    state = DeviceState.open(tmp_path / "device")
    health = Health(state.data_dir, telemetry=lambda: {"cameras": [camera.snapshot()]})

    def stored() -> dict:
        return CameraRow.objects.get(device=kit.device, name="door-1").status

    try:
        with LiveServer(_media_root) as server, http_client(server.url, kit.token) as http:
            wait_until(lambda: camera.status() == OK, within=10, what="frames")
            tap.flowing.clear()
            wait_until(lambda: camera.status() == OFFLINE, within=10, what="offline")
            send_heartbeat(http, health.build(outbox=state.outbox, models=state.models))
            assert stored()["status"] == OFFLINE and "no frame for" in stored()["message"]
            assert stored()["last_frame_age_seconds"] >= 0.3
            tap.flowing.set()
            wait_until(lambda: camera.status() == OK, within=10, what="back")
            send_heartbeat(http, health.build(outbox=state.outbox, models=state.models))
            assert stored()["status"] == OK and "message" not in stored()
    finally:
        camera.stop()
        state.close()
