"""Training runs without torch: the webhook backend against a real HTTP server, signed one-time callbacks,
the stale-run sweep, and the promotion gate's rule."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test.client import BOUNDARY, encode_multipart
from django.utils import timezone
from rest_framework.test import APIClient

from activelearning.datasets.models import DatasetEntry
from activelearning.outbound import sign
from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.training.callback_receiver import callback_headers
from activelearning.training.gate import decide
from activelearning.training.models import TrainerConfig, TrainingRun, TrainingStatus
from activelearning.training.runs import fail_stale_runs, run_training
from activelearning.training.threshold import freeze_dataset
from annotations.models import AuditEvent
from tests.factories import add_member, make_project
from tests.http_receiver import receiving
from tests.onnx_models import detector_bytes

SECRET = "s" * 40


@dataclass
class Pipeline:
    """An external training pipeline: a real local HTTP server that records each POST and answers 202."""

    port: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    state = Pipeline()

    def respond(headers: dict[str, str], body: bytes) -> int:
        state.received.append((headers, body))
        return 202

    with receiving(respond) as port:
        state.port = port
        yield state


@pytest.fixture
def project(db):
    project = make_project("store-counts")
    add_member(project, "dana", "admin")
    return project


def queued_run(project) -> TrainingRun:
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    return TrainingRun.objects.create(project=project, dataset_version=version, backend="webhook")


def callback(run: TrainingRun, payload: dict, *, secret: str = SECRET, model: bytes | None = None,
             timestamp: int | None = None):
    """POST a pipeline's callback as the README tells pipelines to: multipart, headers signed for the run."""
    data = {"payload": json.dumps(payload)}
    if model is not None:
        data["model"] = SimpleUploadedFile("model.onnx", model)
    body = encode_multipart(BOUNDARY, data)
    headers = callback_headers(secret, run_id=run.pk, body=body, timestamp=timestamp,
                               content_type=f"multipart/form-data; boundary={BOUNDARY}")
    del headers["Content-Length"]  # the test client sets it
    return APIClient().post(f"/api/v1/training-runs/{run.pk}/callback", body,
                            content_type=headers.pop("Content-Type"), headers=headers)


@pytest.mark.django_db
def test_webhook_backend_signs_the_request_and_accepts_one_signed_callback(project, pipeline, settings):
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.DEBUG = True  # plain http to the test server
    TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                 webhook_url=f"http://127.0.0.1:{pipeline.port}/train")
    run = queued_run(project)
    run_training(run_id=run.pk)
    [(headers, body)] = pipeline.received
    assert headers["X-Loupe-Signature"] == sign(SECRET, body)
    sent = json.loads(body)
    assert sent["run"] == run.pk and sent["dataset_hash"] == run.dataset_version.content_hash
    run.refresh_from_db()
    assert run.status == TrainingStatus.RUNNING and run.callback_nonce == sent["nonce"]
    # The pipeline fetches the dataset with the signed link alone (no account); it is a YOLO export.
    from activelearning.datasets.exports import run_export
    from activelearning.datasets.models import ExportJob

    link = sent["dataset_url"]
    assert link.startswith("/api/v1/exports/") and "token=" in link and sent["dataset_format"] == "yolo"
    job = ExportJob.objects.get()
    assert APIClient().get(link).status_code == 409  # not written yet
    run_export(job_id=job.pk)
    fetched = APIClient().get(link)
    assert fetched.status_code == 200 and fetched["Cache-Control"] == "private, no-store"
    assert b"".join(fetched.streaming_content)[:2] == b"PK"
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert APIClient().get(forged).status_code == 403
    other = link.replace(f"/exports/{job.pk}/", f"/exports/{job.pk + 1}/")
    assert APIClient().get(other).json()["error"]["code"] == "bad_link"  # a token is for its export only
    assert APIClient().get(f"/api/v1/exports/{job.pk}/signed-file").status_code == 403
    settings.LOUPE_SIGNED_URL_SECONDS = -1  # every link is now past its age
    assert APIClient().get(link).json()["error"]["code"] == "link_expired"

    good = {"nonce": sent["nonce"], "status": "succeeded", "log": "ok"}
    forged = callback(run, good, secret="x" * 40, model=detector_bytes())
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "callback_forbidden"
    stale = callback(run, good, model=detector_bytes(), timestamp=int(timezone.now().timestamp()) - 3600)
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "stale_callback"
    wrong_nonce = callback(run, {**good, "nonce": "0" * 32}, model=detector_bytes())
    assert wrong_nonce.status_code == 409
    accepted = callback(run, good, model=detector_bytes())
    assert accepted.status_code == 200 and accepted.json()["status"] == "succeeded"
    model = ModelVersion.objects.get(pk=accepted.json()["model_version"])
    assert model.status == ModelStatus.CANDIDATE and model.dataset_version_id == run.dataset_version_id
    replayed = callback(run, good, model=detector_bytes(size=32))
    assert replayed.status_code == 409 and replayed.json()["error"]["code"] == "callback_replayed"
    assert ModelVersion.objects.count() == 1
    assert AuditEvent.objects.filter(action="training.succeeded", object_id=str(run.pk)).exists()


@pytest.mark.django_db
def test_a_pipeline_host_off_the_allow_list_fails_the_run(project, settings):
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["trainer.example.com"]
    TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                 webhook_url="https://169.254.169.254/latest/meta-data")
    run = queued_run(project)
    run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and "not allowed" in run.error
    assert run_training(run_id=run.pk) is None  # a finished run is never taken again


@pytest.mark.django_db
def test_trainer_config_api_validates(project, settings):
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["trainer.example.com"]
    admin = APIClient()
    admin.force_authenticate(User.objects.get(username="dana"))
    url = f"/api/v1/projects/{project.pk}/trainer"
    assert admin.get(url).json()["backend"] == "reference"
    ok = admin.put(url, {"backend": "webhook", "webhook_url": "https://trainer.example.com/run",
                         "webhook_secret": SECRET, "auto_promote": True}, format="json")
    assert ok.status_code == 200 and "webhook_secret" not in ok.json() and ok.json()["webhook_secret_set"] is True
    settings.LOUPE_TRAINER_COMMANDS = {"yolo": ["yolo-train", "{dataset}", "{output}"]}
    assert admin.get(url).json()["allowed_commands"] == ["yolo"]
    assert admin.put(url, {"backend": "command", "command": "yolo"}, format="json").status_code == 200
    before = admin.get(url).json()
    for bad in ({"webhook_url": "https://evil.example.net/x"}, {"command": "rm -rf /"}, {"command": ["sh", "-c", "id"]},
                {"promote_margin": 2}, {"threshold": 0}, {"threshold": "many"}, {"threshold": 5, "epochs": 0},
                {"webhook_secret": "short"}, {"backend": "magic"}):
        refused = admin.put(url, bad, format="json")
        assert refused.status_code == 400 and refused.json()["error"]["code"], bad
    assert admin.get(url).json() == before  # nothing of a refused change is stored, the threshold included


@pytest.mark.django_db
def test_the_threshold_is_set_with_the_trainer_settings_and_audited(project):
    from annotations.models import AuditEvent, Project

    admin, annotator, outsider = APIClient(), APIClient(), APIClient()
    admin.force_authenticate(User.objects.get(username="dana"))
    add_member(project, "alice", "annotator")
    annotator.force_authenticate(User.objects.get(username="alice"))
    outsider.force_authenticate(User.objects.create_user("charlie"))
    url = f"/api/v1/projects/{project.pk}/trainer"
    changed = admin.put(url, {"threshold": 250, "per_site_threshold": 40, "webhook_secret": SECRET}, format="json")
    assert changed.status_code == 200
    assert changed.json()["threshold"] == 250 and changed.json()["per_site_threshold"] == 40
    assert Project.objects.get(pk=project.pk).retrain_threshold == 250
    event = AuditEvent.objects.get(action="trainer.configured")
    assert event.before == {"threshold": 500, "per_site_threshold": 0, "webhook_secret": ""}
    assert event.after == {"threshold": 250, "per_site_threshold": 40, "webhook_secret": "set"}  # never the secret
    assert annotator.get(url).status_code == 403 and annotator.put(url, {"threshold": 1}, format="json").status_code == 403
    assert outsider.get(url).status_code == 404
    assert Project.objects.get(pk=project.pk).retrain_threshold == 250


@pytest.mark.django_db
def test_a_run_whose_worker_stopped_beating_fails_with_the_reason(project):
    run = queued_run(project)
    TrainingRun.objects.filter(pk=run.pk).update(status="running", backend="command",
                                                 heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert fail_stale_runs() == [run.pk]
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and "worker stopped" in run.error
    assert fail_stale_runs() == []


def report(cand: float, champ: float, slices: dict[str, tuple[float, float]]) -> dict:
    return {"candidate": {"map50": cand, "slices": {"lighting": {k: {"map50": v[0]} for k, v in slices.items()}}},
            "champion": {"map50": champ, "slices": {"lighting": {k: {"map50": v[1]} for k, v in slices.items()}}}}


def test_the_gate_promotes_only_a_clear_win_without_slice_regressions():
    config = TrainerConfig(auto_promote=True, promote_margin=0.02, slice_tolerance=0.05)
    assert decide(report(0.80, 0.70, {"night": (0.6, 0.5), "bright": (0.9, 0.9)}), config)["auto_promote"]
    small = decide(report(0.71, 0.70, {"night": (0.6, 0.5)}), config)
    assert not small["auto_promote"] and "margin" in small["reason"]
    regress = decide(report(0.80, 0.70, {"night": (0.40, 0.50)}), config)
    assert not regress["auto_promote"] and regress["regressions"][0]["value"] == "night"
    config.auto_promote = False
    assert not decide(report(0.9, 0.1, {}), config)["auto_promote"]
    assert not decide({"candidate": {"map50": 0.9}}, TrainerConfig(auto_promote=True))["auto_promote"]


FAKE_TRAINER = """
import pathlib, sys
dataset, output = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
labels = sorted(dataset.glob("labels/*/*.txt"))
print("data.yaml:", (dataset / "data.yaml").read_text().strip().replace("\\n", " | "))
print("label files:", len(labels), "boxes:", sum(len(p.read_text().split("\\n")) - 1 for p in labels))
sys.path.insert(0, ".")
from tests.http_receiver import receiving
from tests.onnx_models import detector_bytes
output.write_bytes(detector_bytes(size=64))
"""


def accepted_dataset(project, n: int = 4):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.activelearning.test_retraining import accept, submitted_items
    from tests.factories import jpeg_bytes

    add_member(project, "bob", "reviewer")
    bob = User.objects.get(username="bob")
    for i, item in enumerate(submitted_items(project, n)):
        default_storage.save(item.asset.file.name, ContentFile(jpeg_bytes(seed=i)))  # the frame the export reads
        accept(item, bob)
    with transaction.atomic():
        return freeze_dataset(project_id=project.pk)


@pytest.mark.django_db
def test_command_backend_trains_on_the_exported_dataset_and_registers_a_candidate(project, tmp_path, settings):
    import sys

    version = accepted_dataset(project)
    script = tmp_path / "trainer.py"
    script.write_text(FAKE_TRAINER)
    settings.LOUPE_TRAINER_COMMANDS = {"fake": [sys.executable, str(script), "{dataset}", "{output}"]}
    TrainerConfig.objects.create(project=project, backend="command", command="fake")
    run = TrainingRun.objects.create(project=project, dataset_version=version, backend="command")
    run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.SUCCEEDED, run.error
    assert "label files: 4 boxes: 4" in run.log and "names" in run.log
    model = run.model_version
    assert model.status == ModelStatus.CANDIDATE and model.dataset_version == version
    assert model.code_version == run.code_version
    assert AuditEvent.objects.filter(action="training.succeeded", object_id=str(run.pk)).exists()


@pytest.mark.django_db
def test_a_failing_trainer_fails_the_run_with_its_log(project, settings):
    import sys

    version = accepted_dataset(project, 1)
    settings.LOUPE_TRAINER_COMMANDS = {"nan": [
        sys.executable, "-c", "import sys; print('loss went NaN at step 3'); sys.exit(2)"]}
    TrainerConfig.objects.create(project=project, backend="command", command="nan")
    run = TrainingRun.objects.create(project=project, dataset_version=version, backend="command")
    run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and "exited with code 2" in run.error
    assert "loss went NaN" in run.log and not ModelVersion.objects.exists()


WORKER = """
import django, sys
django.setup()
from activelearning.training.runs import run_training
run_training(run_id=int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_training_leaves_the_run_failed_not_running(project, postgres, settings, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    version = accepted_dataset(project, 1)
    started = tmp_path / "started"
    sleeper = [sys.executable, "-c", f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(600)"]
    TrainerConfig.objects.create(project=project, backend="command", command="sleeper")
    run = TrainingRun.objects.create(project=project, dataset_version=version, backend="command")
    db = settings.DATABASES["default"]
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin", "LOUPE_DB_POOL": "false",
           "LOUPE_TRAINER_COMMANDS": json.dumps({"sleeper": sleeper}),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "LOUPE_SECRET_KEY": settings.SECRET_KEY, "MEDIA_STORAGE": settings.MEDIA_ROOT}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(run.pk)], env=env,  # noqa: S603
                              cwd=Path(__file__).resolve().parents[2], start_new_session=True)
    try:
        deadline = timezone.now() + timedelta(seconds=120)
        while not started.exists():  # the trainer is running inside the worker
            assert worker.poll() is None, "the worker ended early"
            assert timezone.now() < deadline, "the trainer never started"
            threading.Event().wait(0.2)  # polling for the marker file, not timing anything
        run.refresh_from_db()
        assert run.status == TrainingStatus.RUNNING
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its trainer, as a machine loss would
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert fail_stale_runs() == []  # its heartbeat is still fresh
    assert fail_stale_runs(now=timezone.now() + timedelta(minutes=3)) == [run.pk]
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and "worker stopped" in run.error


@pytest.mark.django_db
def test_reference_backend_fine_tunes_the_champion_on_the_dataset(project):
    """The real reference trainer (torch): one step on the exported dataset from the demo champion's weights."""
    from pathlib import Path

    from activelearning.registry.services import promote_model, register_model_file, store_weights

    demo = Path(__file__).resolve().parents[2] / "activelearning" / "demo" / "people-detector.onnx"
    champion = register_model_file(project=project, path=demo, name="people-detector", user=None)
    store_weights(champion, demo.with_name("people-detector.weights.npz"))
    promote_model(model=champion, user=None, to=ModelStatus.CHAMPION)
    version = accepted_dataset(project, 4)
    TrainerConfig.objects.create(project=project, backend="reference", epochs=1)
    run = TrainingRun.objects.create(project=project, dataset_version=version, backend="reference")
    run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.SUCCEEDED, run.error + run.log[-2000:]
    train = DatasetEntry.objects.filter(dataset_version=version, split="train").count()
    assert train > 0 and f": {train} frames, {train} boxes" in run.log  # the train split of the export
    assert "fine-tuning from" in run.log
    candidate = run.model_version
    assert candidate.status == ModelStatus.CANDIDATE and candidate.classes == ["person"]
    assert candidate.input_width == 320 and candidate.sha256 != champion.sha256
    assert candidate.metadata["weights"].endswith(".weights.npz")  # the next retraining starts from these
    assert candidate.dataset_version == version


@pytest.mark.django_db
def test_the_trainers_output_streams_into_the_run_with_its_progress(project, monkeypatch):
    import sys

    from activelearning.training import runs as training

    monkeypatch.setattr(training, "LIVE_EVERY_SECONDS", 0.0)  # write every line through
    version = accepted_dataset(project, 1)
    run = TrainingRun.objects.create(project=project, dataset_version=version, backend="command",
                                     status="running")
    seen: list[tuple[str, float | None]] = []
    real_flush = training._LiveLog.flush

    def spy(live):
        real_flush(live)
        stored = TrainingRun.objects.get(pk=run.pk)
        seen.append((stored.log, stored.metrics.get("progress")))

    monkeypatch.setattr(training._LiveLog, "flush", spy)
    script = "for i in range(4): print(f'step {i}/4 loss {1 - i / 4:.2f}', flush=True)"
    log = training._run_command([sys.executable, "-c", script], dataset=Path("/nonexistent"),
                                output=Path("/nonexistent"), run=run)
    assert log.splitlines() == [f"step {i}/4 loss {1 - i / 4:.2f}" for i in range(4)]
    assert [p for _, p in seen] == [0.25, 0.5, 0.75, 1.0]
    assert seen[1][0] == "step 0/4 loss 1.00\nstep 1/4 loss 0.75\n"  # the stored log grew line by line
    admin = APIClient()
    admin.force_authenticate(User.objects.get(username="dana"))
    listed = admin.get(f"/api/v1/projects/{project.pk}/training-runs/").json()
    assert listed[0]["log_tail"][-1] == "step 3/4 loss 0.25" and listed[0]["metrics"]["progress"] == 1.0
