"""The training callback is refused before its body is read unless its headers are signed for the run, and it
answers an unknown run exactly as a forged signature (issue 14, finding 6).

The big-body tests drive Django's WSGI handler (the one the server runs under a2wsgi) with a request stream
that counts the bytes the server pulls from it, so "refused before reading" is a number, not a timing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.test.client import BOUNDARY, MULTIPART_CONTENT, ClientHandler, encode_multipart
from django.utils import timezone
from rest_framework.test import APIClient

from activelearning.registry.models import ModelVersion
from activelearning.training.callback_receiver import callback_headers, callback_signature, max_callback_bytes
from activelearning.training.models import TrainerConfig, TrainingRun, TrainingStatus
from activelearning.training.threshold import freeze_dataset
from tests.factories import add_member, make_project
from tests.onnx_models import detector_bytes

SECRET = "s" * 40
NONCE = "n" * 32
TWO_HUNDRED_MB = 200 * 1000 * 1000


@pytest.fixture
def project(db):
    project = make_project("store-counts")
    add_member(project, "dana", "admin")
    TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                 webhook_url="https://trainer.example.com/train")
    return project


@pytest.fixture
def run(project) -> TrainingRun:
    """A webhook run the pipeline is working on: running, waiting for its one callback."""
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    return TrainingRun.objects.create(project=project, dataset_version=version, backend="webhook",
                                      status=TrainingStatus.RUNNING, started_at=timezone.now(),
                                      heartbeat_at=timezone.now(), callback_nonce=NONCE)


def multipart(payload: dict, model: bytes | None = None) -> bytes:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data: dict = {"payload": json.dumps(payload)}
    if model is not None:
        data["model"] = SimpleUploadedFile("model.onnx", model)
    return encode_multipart(BOUNDARY, data)


def post(run_id: int, body: bytes, headers: dict[str, str]):
    headers = {k: v for k, v in headers.items() if k not in ("Content-Type", "Content-Length")}
    return APIClient().post(f"/api/v1/training-runs/{run_id}/callback", body, content_type=MULTIPART_CONTENT,
                            headers=headers)


def signed(run_id: int, body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    return callback_headers(secret, run_id=run_id, body=body, timestamp=timestamp, content_type=MULTIPART_CONTENT)


GOOD = {"nonce": NONCE, "status": "succeeded", "log": "trained"}


def test_an_unknown_run_a_forged_signature_and_no_signature_get_the_same_answer(project, run,
                                                                                django_assert_num_queries):
    body = multipart(GOOD, detector_bytes())
    unknown_id = run.pk + 1000
    other = make_project("elsewhere")  # a run of a project without a trainer secret
    with transaction.atomic():
        other_version = freeze_dataset(project_id=other.pk)
    secretless = TrainingRun.objects.create(project=other, dataset_version=other_version, backend="webhook",
                                            status=TrainingStatus.RUNNING, callback_nonce=NONCE)
    attempts = {
        "forged": (run.pk, signed(run.pk, body, secret="x" * 40)),
        "unknown run": (unknown_id, signed(unknown_id, body)),
        "unsigned": (run.pk, {}),
        "signed for another run": (run.pk, signed(unknown_id, body)),
        "run without a secret": (secretless.pk, signed(secretless.pk, body, secret="")),
        # (An id past 64 bits never reaches the view: config.path_ids answers 404 for it on every route.)
    }
    answers = {}
    for name, (run_id, headers) in attempts.items():
        with django_assert_num_queries(2):  # the same steps whether the run exists or not: run, then its secret
            answer = post(run_id, body, headers)
        answers[name] = (answer.status_code, answer.json())
    expected = (403, {"error": {"code": "callback_forbidden", "message": "The callback is not signed for this run.",
                                "details": {}}})
    assert answers == dict.fromkeys(attempts, expected)
    run.refresh_from_db()
    assert (run.status, run.callback_nonce) == (TrainingStatus.RUNNING, NONCE)
    assert not ModelVersion.objects.exists()


class CountingBody:
    """A request body of `size` bytes made on demand (a multipart form whose model part is zeros), counting
    what the server reads."""

    def __init__(self, size: int) -> None:
        head = multipart(GOOD).removesuffix(f"--{BOUNDARY}--\r\n".encode())
        head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"; filename="model.onnx"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n").encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size, self.read_bytes = size, 0
        self._chunks = self._generate(head, size - len(head) - len(tail), tail)
        self._pending = b""

    @staticmethod
    def _generate(head: bytes, zeros: int, tail: bytes) -> Iterator[bytes]:
        yield head
        block = bytes(1 << 20)
        while zeros > 0:
            yield block[:min(zeros, len(block))]
            zeros -= len(block)
        yield tail

    def read(self, size: int = -1) -> bytes:
        out = bytearray(self._pending)
        while size < 0 or len(out) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            out += chunk
        data, self._pending = (bytes(out), b"") if size < 0 else (bytes(out[:size]), bytes(out[size:]))
        self.read_bytes += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:  # (WSGI's input interface; never needed here)
        raise AssertionError("the callback body is never read by lines")


def wsgi_post(path: str, body: CountingBody, headers: dict[str, str]):
    """A POST through Django's full WSGI stack (middleware and all) with a streamed body."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": body, "wsgi.errors": None,
        "wsgi.multiprocess": False, "wsgi.multithread": False, "wsgi.run_once": False,
        "CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(body.size), "HTTP_HOST": "testserver",
    }
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    return ClientHandler(enforce_csrf_checks=True)(environ)


@pytest.mark.parametrize("headers", ["none", "forged"])
def test_a_200_mb_unsigned_body_is_refused_before_the_server_reads_it(project, run, headers):
    assert max_callback_bytes() >= TWO_HUNDRED_MB  # within the size cap: only the signature can refuse it
    body = CountingBody(TWO_HUNDRED_MB)
    now = int(timezone.now().timestamp())
    sent = {} if headers == "none" else {
        "X-Loupe-Timestamp": str(now), "X-Loupe-Content-SHA256": "0" * 64,
        "X-Loupe-Signature": callback_signature("x" * 40, run_id=run.pk, timestamp=now,
                                                content_length=body.size, content_sha256="0" * 64)}
    answer = wsgi_post(f"/api/v1/training-runs/{run.pk}/callback", body, sent)
    assert body.read_bytes == 0
    assert answer.status_code == 403 and json.loads(answer.content)["error"]["code"] == "callback_forbidden"
    run.refresh_from_db()
    assert run.status == TrainingStatus.RUNNING


def test_a_body_over_the_cap_is_refused_before_it_is_read_whatever_the_run(project, run):
    for run_id in (run.pk, run.pk + 1000):
        body = CountingBody(max_callback_bytes() + 1)
        answer = wsgi_post(f"/api/v1/training-runs/{run_id}/callback", body, {})
        assert answer.status_code == 413 and json.loads(answer.content)["error"]["code"] == "body_too_large"
        assert body.read_bytes == 0


@pytest.mark.parametrize("skew", [-(10 * 60), 10 * 60])
def test_a_callback_signed_outside_the_time_window_is_refused(project, run, skew):
    body = multipart(GOOD, detector_bytes())
    stale = post(run.pk, body, signed(run.pk, body, timestamp=int(timezone.now().timestamp()) + skew))
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "stale_callback"
    run.refresh_from_db()
    assert (run.status, run.callback_nonce) == (TrainingStatus.RUNNING, NONCE)
    assert not ModelVersion.objects.exists()


def test_a_body_other_than_the_signed_one_is_refused_and_the_run_still_completes(project, run, settings, tmp_path):
    spool = tmp_path / "uploads"  # where the model part is streamed to
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    body = multipart(GOOD, detector_bytes())
    headers = signed(run.pk, body)
    tampered = body.replace(b'"trained"', b'"TRAINED"')  # same length, another body
    assert len(tampered) == len(body) and tampered != body
    refused = post(run.pk, tampered, headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "callback_forbidden"
    assert list(spool.iterdir()) == []  # the refused body's temporary file is gone
    run.refresh_from_db()
    assert (run.status, run.callback_nonce) == (TrainingStatus.RUNNING, NONCE)

    accepted = post(run.pk, body, headers)  # the genuine callback still completes the run, end to end
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "succeeded"
    model = ModelVersion.objects.get(pk=accepted.json()["model_version"])
    assert model.dataset_version_id == run.dataset_version_id
    leftovers = [p for d in (spool, Path(settings.LOUPE_UPLOAD_TMP_DIR)) if d.exists() for p in d.iterdir()]
    assert leftovers == []  # the one temporary file was validated in place and removed
    replayed = post(run.pk, body, headers)  # inside the time window: the spent nonce refuses it
    assert replayed.status_code == 409 and replayed.json()["error"]["code"] == "callback_replayed"
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize(("body", "code"), [
    (b"not a multipart form", "invalid_callback"),
    (None, "invalid_callback"),  # a form without the payload field
])
def test_a_signed_but_malformed_body_is_a_400_with_its_code(project, run, body, code):
    if body is None:
        body = encode_multipart(BOUNDARY, {"other": "x"})
    answer = post(run.pk, body, signed(run.pk, body))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == code
    run.refresh_from_db()
    assert run.status == TrainingStatus.RUNNING


def test_the_signature_is_the_documented_hmac(project):
    """Pipelines implement it from the README: HMAC-SHA256 over "{run}.{timestamp}.{length}.{sha256}"."""
    import hashlib
    import hmac

    message = f"7.1700000000.12.{'a' * 64}".encode()
    assert callback_signature(SECRET, run_id=7, timestamp=1700000000, content_length=12,
                              content_sha256="a" * 64) == (
        "sha256=" + hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest())
    assert max_callback_bytes() > settings.LOUPE_MAX_MODEL_BYTES
