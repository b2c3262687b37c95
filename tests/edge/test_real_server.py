"""The edge client against the real server (uvicorn + Django + PostgreSQL in another process): crashes of the
server and of the client lose and duplicate nothing, a revoked token stops the client, models update over the air."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from rest_framework.test import APIClient

from annotations.models import Asset, Device, Prediction
from annotations.services import revoke_device
from edge.backoff import Backoff
from edge.capture import capture
from edge.client import AuthError, Uploader
from edge.device import DeviceState, http_client
from edge.heartbeat import Health, send_heartbeat
from edge.outbox import Outbox
from reviewer.models import ReviewItem
from tests.edge.fakes import FakeClock
from tests.factories import add_member, jpeg_bytes, make_device_kit, prediction_event
from tests.onnx_models import detector_bytes
from tests.server import ROOT, LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

N = 200


def queue_events(data_dir: Path, n: int = N, start: int = 0) -> list[str]:
    """Queue n prediction events, each with its own small JPEG, as a camera loop would."""
    state = DeviceState.open(data_dir, budget_bytes=10**8)
    ids = []
    for i in range(start, start + n):
        event = prediction_event(f"edge-{i:04d}", "", score=0.3)
        del event["asset"]
        capture(outbox=state.outbox, spool=state.spool, event=event, media=jpeg_bytes(64, 48, seed=i))
        ids.append(event["id"])
    state.close()
    return ids


def assert_stored_exactly_once(device: Device, ids: list[str]) -> None:
    stored = list(Prediction.objects.filter(device=device).values_list("event_id", flat=True))
    assert sorted(stored) == sorted(ids)  # none lost, none twice
    assert Asset.objects.count() == len(ids)
    per_prediction = ReviewItem.objects.filter(prediction__device=device).values("prediction").annotate(n=Count("id"))
    assert len(per_prediction) == len(ids) and {row["n"] for row in per_prediction} == {1}


def test_the_server_killed_mid_drain_loses_and_duplicates_nothing(postgres, _media_root, tmp_path):
    kit = make_device_kit()
    ids = queue_events(tmp_path / "device")
    server = LiveServer(_media_root).start()
    posts, sleeps = [], []

    class CrashingTransport(httpx.HTTPTransport):
        """The server dies after storing the second batch, before the device hears the answer."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path == "/api/v1/events":
                posts.append(response.status_code)
                if len(posts) == 2:
                    response.read()
                    server.kill()
                    raise httpx.ReadError("the server went away mid-answer")
            return response

    clock = FakeClock()

    def sleep(seconds: float) -> None:
        nonlocal server
        clock.sleep(seconds)
        sleeps.append(seconds)
        if len(sleeps) == 3:  # two retries meet a dead server; then it is back on the same port
            server = LiveServer(_media_root, port=server.port).start()

    state = DeviceState.open(tmp_path / "device")
    http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {kit.token}"},
                        transport=CrashingTransport(), timeout=30)
    try:
        report = Uploader(http=http, outbox=state.outbox, spool=state.spool, batch_size=50, clock=clock,
                          sleep=sleep, backoff=Backoff(random=lambda: 0.5)).drain()
        assert state.outbox.counts() == {"pending": 0, "sent": N, "rejected": 0}
    finally:
        http.close()
        state.close()
        server.kill()
    assert report.failures >= 1 and report.probes >= 3 and len(sleeps) >= 3  # probes until it is back
    assert report.sent == N  # the resent second batch came back `duplicate`, which counts as sent
    assert_stored_exactly_once(kit.device, ids)


def _run_client(server: LiveServer, data_dir: Path, token_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603  (fixed argv: our own CLI)
        [sys.executable, "-m", "edge.cli", "run", "--server", server.url, "--token-file", str(token_file),
         "--data-dir", str(data_dir), "--camera", "door-1", "--batch-size", "20", "--once"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_client_sigkilled_mid_drain_resumes_and_loses_and_duplicates_nothing(postgres, _media_root, tmp_path):
    kit = make_device_kit()
    data_dir = tmp_path / "device"
    ids = queue_events(data_dir)
    token_file = tmp_path / "token"
    token_file.write_text(kit.token)
    with LiveServer(_media_root) as server:
        client = _run_client(server, data_dir, token_file)
        # Wait (bounded) until the client is well into the drain, then kill it as a power cut would.
        deadline = time.monotonic() + 60
        while Prediction.objects.filter(device=kit.device).count() < 40:
            assert client.poll() is None, client.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the client sent nothing within 60 s"
            time.sleep(0.01)
        os.kill(client.pid, signal.SIGKILL)
        client.wait(timeout=10)
        with Outbox(data_dir / "outbox.sqlite3") as outbox:
            assert outbox.depth() > 0, "the kill came after the drain: nothing was interrupted"
        again = _run_client(server, data_dir, token_file)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == 0, stderr.decode()[-2000:]
    with Outbox(data_dir / "outbox.sqlite3") as outbox:
        assert outbox.counts() == {"pending": 0, "sent": N, "rejected": 0}
    assert_stored_exactly_once(kit.device, ids)
    assert Device.objects.get(pk=kit.device.pk).outbox_depth is not None  # it sent heartbeats


def test_a_revoked_token_stops_the_client_with_a_clear_error_and_loses_nothing(postgres, _media_root, tmp_path):
    kit = make_device_kit()
    data_dir = tmp_path / "device"
    first = queue_events(data_dir, 10)
    token_file = tmp_path / "token"
    token_file.write_text(kit.token)
    with LiveServer(_media_root) as server:
        state = DeviceState.open(data_dir)
        with http_client(server.url, kit.token) as http:
            Uploader(http=http, outbox=state.outbox, spool=state.spool).drain()
            queue_events(data_dir, 10, start=10)
            revoke_device(device=kit.device)
            with pytest.raises(AuthError, match="token_revoked"):
                Uploader(http=http, outbox=state.outbox, spool=state.spool).drain()
        assert state.outbox.counts() == {"pending": 10, "sent": 10, "rejected": 0}
        state.close()
        cli = _run_client(server, data_dir, token_file)
        _, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 3
    assert "revoked" in stderr.decode() and "events stay queued" in stderr.decode()
    with Outbox(data_dir / "outbox.sqlite3") as outbox:
        assert outbox.counts() == {"pending": 10, "sent": 10, "rejected": 0}
    assert sorted(Prediction.objects.values_list("event_id", flat=True)) == first


def test_a_promoted_model_is_downloaded_verified_swapped_in_and_reported(postgres, _media_root, tmp_path):
    kit = make_device_kit()
    admin = APIClient()
    admin.force_authenticate(add_member(kit.project, "dana", "admin"))
    data = detector_bytes()
    uploaded = admin.post(f"/api/v1/projects/{kit.project.pk}/models/", {
        "file": SimpleUploadedFile("model.onnx", data), "name": "people-det"}, format="multipart")
    assert uploaded.status_code == 201, uploaded.json()
    model = uploaded.json()
    state = DeviceState.open(tmp_path / "device")
    health = Health(state.data_dir, cameras=[{"name": "door-1", "status": "ok"}])
    statuses: list[int] = []
    with LiveServer(_media_root) as server, http_client(server.url, kit.token) as http:
        http.event_hooks["response"] = [lambda r: statuses.append(r.status_code)]
        assert state.models.check_for_update(http).status == "no_champion"
        promoted = admin.post(f"/api/v1/models/{model['id']}/promote", {"to": "champion"}, format="json")
        assert promoted.status_code == 200
        answer = send_heartbeat(http, health.build(outbox=state.outbox, models=state.models))
        assert answer.desired_model["sha256"] == model["sha256"] != state.models.active_sha256

        assert state.models.check_for_update(http).status == "updated"
        assert state.models.active_sha256 == model["sha256"]
        assert state.models.active_link.read_bytes() == data

        send_heartbeat(http, health.build(outbox=state.outbox, models=state.models))
        assert Device.objects.get(pk=kit.device.pk).model_sha256 == model["sha256"]
        statuses.clear()
        assert state.models.check_for_update(http).status == "unchanged"
        assert statuses == [304]
    state.close()


def test_simulate_renders_queues_and_drains_synthetic_frames(postgres, _media_root, tmp_path):
    import json

    kit = make_device_kit()
    with LiveServer(_media_root) as server:
        run = subprocess.run(  # noqa: S603  (fixed argv: our own CLI)
            [sys.executable, "-m", "edge.cli", "simulate", "--server", server.url, "--token", kit.token,
             "--frames", "12", "--kind", "bus", "--width", "96", "--height", "64", "--data-dir",
             str(tmp_path / "sim"), "--run-id", "t1"], cwd=ROOT, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    summary = json.loads(run.stdout)
    assert summary["sent"] == 12 and summary["pending"] == 0 and summary["rejected"] == 0
    assert Prediction.objects.filter(device=kit.device, event_id__startswith="sim-bus-t1-").count() == 12
