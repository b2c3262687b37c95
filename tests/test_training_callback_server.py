"""The training callback through the real stack (uvicorn, a2wsgi, Django, PostgreSQL; real sockets): an unsigned
200 MB callback is answered before a byte of its body is sent, and the pipeline-side sender
(`activelearning.training.trainers.callback`) completes a run end to end."""

from __future__ import annotations

import json
import socket

import pytest
from django.db import transaction
from django.utils import timezone

from activelearning.registry.models import ModelVersion
from activelearning.training.models import TrainerConfig, TrainingRun, TrainingStatus
from activelearning.training.threshold import freeze_dataset
from activelearning.training.trainers.callback import send_callback
from tests.factories import make_project
from tests.onnx_models import detector_bytes
from tests.server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "s" * 40
NONCE = "n" * 32


def running_run() -> TrainingRun:
    project = make_project("store-counts")
    TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                 webhook_url="https://trainer.example.com/train")
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    return TrainingRun.objects.create(project=project, dataset_version=version, backend="webhook",
                                      status=TrainingStatus.RUNNING, started_at=timezone.now(),
                                      heartbeat_at=timezone.now(), callback_nonce=NONCE)


def whole_response(sock: socket.socket) -> bytes:
    """One HTTP response read off `sock`: its head, then as many body bytes as its Content-Length says. Not until
    the server closes the connection: uvicorn keeps it open for its keep-alive timeout (5 s) after answering."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"the connection closed before a whole response head: {data[:300]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, f"the connection closed after {len(body)} of {length} body bytes"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_an_unsigned_200_mb_callback_is_answered_before_its_body_is_sent(postgres, _media_root):
    run = running_run()
    replies = []
    with LiveServer(_media_root) as server:
        for run_id in (run.pk, run.pk + 1000):  # a real run, an unknown one
            with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
                sock.sendall((f"POST /api/v1/training-runs/{run_id}/callback HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: multipart/form-data; boundary=x\r\n"
                              "Content-Length: 200000000\r\n\r\n").encode())
                # Not one byte of the body is sent: the answer must come from the headers alone.
                replies.append(whole_response(sock).decode())
    for reply in replies:
        assert reply.startswith("HTTP/1.1 403"), reply[:300]
    bodies = [json.loads(reply.split("\r\n\r\n", 1)[1]) for reply in replies]
    assert bodies[0] == bodies[1] and bodies[0]["error"]["code"] == "callback_forbidden"
    run.refresh_from_db()
    assert run.status == TrainingStatus.RUNNING


def test_the_pipelines_sender_completes_a_run_through_the_server(postgres, _media_root, tmp_path):
    run = running_run()
    model = tmp_path / "model.onnx"
    model.write_bytes(detector_bytes())
    with LiveServer(_media_root) as server:
        url = f"{server.url}/api/v1/training-runs/{run.pk}/callback"
        forged = send_callback(url, secret="x" * 40, run_id=run.pk, payload={"nonce": NONCE, "status": "succeeded"},
                               model=model)
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "callback_forbidden"
        answer = send_callback(url, secret=SECRET, run_id=run.pk, model=model,
                               payload={"nonce": NONCE, "status": "succeeded", "log": "epoch 1/1"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "succeeded"
    run.refresh_from_db()
    assert run.status == TrainingStatus.SUCCEEDED and run.log == "epoch 1/1"
    assert ModelVersion.objects.get(pk=run.model_version_id).dataset_version_id == run.dataset_version_id
