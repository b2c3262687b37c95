"""Training runs: the state machine, the trainer backends, and what happens to the model they produce.

A run goes queued → running → succeeded | failed. `run_training` takes a queued run with a conditional UPDATE
(a re-delivered task finds it taken), keeps `heartbeat_at` fresh from a side thread while the backend works,
and records the outcome. A worker killed mid-training stops the heartbeat: `fail_stale_runs` (beat sweep)
marks such runs failed with the reason, so none stays `running` forever.

Backends (TrainerConfig.backend):
- `command`: an argv the server's operator allowed (LOUPE_TRAINER_COMMANDS, chosen by name) runs with `{dataset}` (the dataset version exported as YOLO, unpacked) and
  `{output}` (where it must leave an .onnx file), under a time limit, its output kept as the run's log;
- `reference`: the same with the reference trainer's argv (`python -m activelearning.training.trainers.reference`);
- `webhook`: a signed request tells an external pipeline where to fetch the dataset; it calls back with the
  model once, signed over the run, a timestamp and the body (`training_callback`), then `accept_callback`.
The produced ONNX goes through the registry's validation like any upload, becomes a candidate with its lineage
(dataset version, code version), and is shadow-evaluated against the champion (`gate`).
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from activelearning import jobs
from activelearning.registry.models import ModelVersion
from activelearning.registry.prelabels import local_file
from activelearning.training.log import clean_log
from activelearning.training.models import (
    TrainerBackend,
    TrainerConfig,
    TrainingRun,
    TrainingStatus,
)
from annotations import audit, events, metrics
from annotations.errors import Conflict, InvalidInput
from reviewer import realtime

HEARTBEAT_SECONDS = 10.0
STALE_AFTER = timedelta(minutes=2)
LOG_LIMIT = 200_000  # characters of a run's log kept


class TrainingFailed(Exception):
    """The backend did not produce a usable model; the message is the run's error."""


def trainer_config(project_id: int) -> TrainerConfig:
    return TrainerConfig.objects.select_related("project").get_or_create(project_id=project_id)[0]


def code_version() -> str:
    """The git commit of this checkout (lineage); empty outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,  # noqa: S607
                              cwd=settings.BASE_DIR, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _publish(run: TrainingRun, **extra: Any) -> None:
    realtime.publish(project_id=run.project_id, message={"type": "training.status", "run": run.pk,
                                                         "state": run.status, **extra})


def _take(run_id: int) -> TrainingRun | None:
    """queued → running, or None if another delivery took it (or it is over)."""
    now = timezone.now()
    taken = TrainingRun.objects.filter(pk=run_id, status=TrainingStatus.QUEUED).update(
        status=TrainingStatus.RUNNING, started_at=now, heartbeat_at=now, code_version=code_version()[:64])
    if not taken:
        return None
    TrainingRun.objects.filter(pk=run_id).update(attempts=F("attempts") + 1)
    run = TrainingRun.objects.select_related("dataset_version", "project").get(pk=run_id)
    with transaction.atomic():
        audit.record(action="training.started", obj_type="training_run", obj_id=run.pk, project_id=run.project_id,
                     after={"backend": run.backend, "attempt": run.attempts})
        _publish(run)
    return run


@contextmanager
def _heartbeat(run_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Keep `heartbeat_at` fresh while the body runs (own thread, own connection)."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                TrainingRun.objects.filter(pk=run_id, status=TrainingStatus.RUNNING).update(
                    heartbeat_at=timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"training-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


def run_training(*, run_id: int, export_dataset: Callable[[TrainingRun, Path], Path] | None = None) -> TrainingRun | None:
    """Run a queued training to the end (succeeded with a candidate, or failed with the reason)."""
    run = _take(run_id)
    if run is None:
        return None
    config = trainer_config(run.project_id)
    try:
        with _heartbeat(run.pk):
            if config.backend == TrainerBackend.WEBHOOK:
                _send_webhook(run, config)
                return run  # stays running until the pipeline calls back (or the sweep fails it)
            # Timed here only: a pipeline behind a webhook reports back later, from elsewhere.
            with metrics.timed(metrics.TRAINING_SECONDS, status=TrainingStatus.FAILED) as labels, \
                    tempfile.TemporaryDirectory(prefix=f"loupe-train-{run.pk}-") as work:
                dataset = (export_dataset or export_for_training)(run, Path(work) / "dataset")
                output = Path(work) / "model.onnx"
                log = _run_command(_argv(config, run), dataset=dataset, output=output, run=run)
                if not output.is_file():
                    raise TrainingFailed("the trainer finished without writing an .onnx file")
                model = _register_output(run, output)
                labels["status"] = TrainingStatus.SUCCEEDED
        _finish(run, status=TrainingStatus.SUCCEEDED, log=log, model=model)
    except TrainingFailed as exc:
        _finish(run, status=TrainingStatus.FAILED, error=str(exc), log=getattr(exc, "log", ""))
    return run


def weights_file(onnx_path: Path) -> Path:
    """Where a trainer leaves the weights of the model it wrote (the reference trainer's convention)."""
    return onnx_path.with_name(onnx_path.stem + ".weights.npz")


def _argv(config: TrainerConfig, run: TrainingRun) -> list[str]:
    if config.backend == TrainerBackend.REFERENCE:
        argv = [sys.executable, "-m", "activelearning.training.trainers.reference", "--dataset", "{dataset}",
                "--out", "{output}", "--epochs", str(config.epochs), "--batch", "8", "--no-card",
                "--threads", str(settings.LOUPE_TRAINING_THREADS), "--checkpoint", "{output}.checkpoint.npz",
                "--max-minutes", str(settings.LOUPE_TRAINING_TIMEOUT_SECONDS / 60)]
        champion = ModelVersion.objects.filter(project_id=run.project_id, status="champion").first()
        if champion is not None and champion.metadata.get("weights"):
            argv += ["--init", str(local_file(champion.metadata["weights"]))]  # fine-tune the champion
        return argv
    allowed = settings.LOUPE_TRAINER_COMMANDS.get(config.command) if config.command else None
    if not allowed:
        raise TrainingFailed(f"no trainer command named {config.command!r} is allowed on this server")
    return [str(part) for part in allowed]


STEP_LINE = re.compile(r"\bstep\s+(\d+)\s*/\s*(\d+)")
LIVE_EVERY_SECONDS = 2.0
LIVE_TAIL_LINES = 20


class _LiveLog:
    """The trainer's output as it comes: kept (bounded) for the run, and every couple of seconds written to the
    run row and pushed to the project's browsers with the progress a `step i/n` line gives."""

    def __init__(self, run: TrainingRun) -> None:
        self.run, self.lines, self.size = run, deque[str](), 0
        self.progress: float | None = None
        self.flushed = time.monotonic()

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line)
        while self.size > LOG_LIMIT and self.lines:
            self.size -= len(self.lines.popleft())
        if match := STEP_LINE.search(line):
            done, total = int(match.group(1)), int(match.group(2))
            self.progress = min(1.0, (done + 1) / total) if total else None
        if time.monotonic() - self.flushed >= LIVE_EVERY_SECONDS:
            self.flush()

    def text(self) -> str:
        return "".join(self.lines)

    def flush(self) -> None:
        self.flushed = time.monotonic()
        TrainingRun.objects.filter(pk=self.run.pk, status=TrainingStatus.RUNNING).update(
            log=self.text(), metrics={"progress": self.progress} if self.progress is not None else {})
        with transaction.atomic():  # the push goes out on commit
            # Every member's browser hears this: the cleaned tail, never server paths or raw warnings.
            _publish(self.run, progress=self.progress, log_tail=clean_log(
                list(self.lines)[-3 * LIVE_TAIL_LINES:], app_dir=str(settings.BASE_DIR))[-LIVE_TAIL_LINES:])


def _run_command(argv: list[str], *, dataset: Path, output: Path, run: TrainingRun | None = None) -> str:
    """Run the trainer with the paths filled in, streaming its output into the run's log (live in the app).
    A nonzero exit, or running past LOUPE_TRAINING_TIMEOUT_SECONDS, fails the run with the log kept."""
    filled = [part.replace("{dataset}", str(dataset)).replace("{output}", str(output)) for part in argv]
    try:
        process = subprocess.Popen(filled, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,  # noqa: S603
                                   cwd=settings.BASE_DIR, bufsize=1)  # admin-configured argv, no shell
    except OSError as exc:
        raise TrainingFailed(f"the trainer could not start: {exc}") from exc
    live = _LiveLog(run) if run is not None else None
    kept: deque[str] = deque(maxlen=10_000)
    deadline = threading.Timer(settings.LOUPE_TRAINING_TIMEOUT_SECONDS, process.kill)
    deadline.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            kept.append(line)
            if live is not None:
                live.add(line)
        code = process.wait()
    finally:
        deadline.cancel()
    log = (live.text() if live is not None else "".join(kept))[-LOG_LIMIT:]
    if code != 0:
        reason = (f"the trainer was killed (time limit {settings.LOUPE_TRAINING_TIMEOUT_SECONDS} s, or memory)"
                  if code == -9 else f"the trainer exited with code {code}")
        failure = TrainingFailed(reason)
        failure.log = log  # type: ignore[attr-defined]
        raise failure
    return log


def export_for_training(run: TrainingRun, destination: Path) -> Path:
    """The run's dataset version as a YOLO folder (images/, labels/, data.yaml) at `destination`."""
    from activelearning.datasets.exports import write_export_directory  # the export module owns the formats

    write_export_directory(run.dataset_version, "yolo", destination)
    return destination


def _register_output(run: TrainingRun, path: Path, *, take_file: bool = False) -> ModelVersion:
    from activelearning.registry.services import register_model_file, store_weights

    # A fine-tuned model starts at the operating point of the champion it came from.
    champion = ModelVersion.objects.filter(project_id=run.project_id, status="champion").first()
    model = register_model_file(project=run.project, path=path, name=f"retrained-d{run.dataset_version.number}",
                                user=None, conf_threshold=champion.conf_threshold if champion else None,
                                take_file=take_file)
    ModelVersion.objects.filter(pk=model.pk).update(dataset_version=run.dataset_version,
                                                    code_version=run.code_version)
    if weights_file(path).is_file():
        store_weights(model, weights_file(path))
    model.refresh_from_db()
    return model


def _finish(run: TrainingRun, *, status: str, log: str = "", error: str = "", model: ModelVersion | None = None) -> None:
    with transaction.atomic():
        updated = TrainingRun.objects.filter(pk=run.pk, status=TrainingStatus.RUNNING).update(
            status=status, log=log[-LOG_LIMIT:], error=error[:4000], model_version=model, finished_at=timezone.now())
        if not updated:
            return  # the sweep failed it meanwhile; its verdict stands
        run.status, run.error, run.model_version = status, error, model
        audit.record(action=f"training.{status}", obj_type="training_run", obj_id=run.pk, project_id=run.project_id,
                     after={"error": error[:500], "model": model.pk if model else None})
        _publish(run, model=model.pk if model else None, error=error[:500])
        _announce_finished(run)
        if model is not None:
            jobs.kick("training.gate", model_id=model.pk, run_id=run.pk)


def _announce_finished(run: TrainingRun) -> None:
    """The `training.finished` domain event (a webhook subscribes); call inside the transaction that ended the run."""
    events.emit("training.finished", project_id=run.project_id, run=run.pk, status=run.status,
                model=run.model_version_id, error=run.error[:500])


def fail_stale_runs(*, now: Any = None) -> list[int]:
    """Runs whose worker stopped beating (killed, machine lost) end as failed, with the reason."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = list(TrainingRun.objects.filter(status=TrainingStatus.RUNNING, heartbeat_at__lt=cutoff)
                 .exclude(backend=TrainerBackend.WEBHOOK).values_list("pk", flat=True))
    failed = []
    for run_id in stale:
        with transaction.atomic():
            run = TrainingRun.objects.select_for_update(skip_locked=True).filter(
                pk=run_id, status=TrainingStatus.RUNNING, heartbeat_at__lt=cutoff).first()
            if run is None:
                continue
            reason = f"the worker stopped (no heartbeat since {run.heartbeat_at})"
            run.status, run.error, run.finished_at = TrainingStatus.FAILED, reason, timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            audit.record(action="training.failed", obj_type="training_run", obj_id=run.pk, project_id=run.project_id,
                         after={"error": reason})
            _publish(run, error=reason)
            _announce_finished(run)
            failed.append(run.pk)
    return failed


# --- Webhook backend -------------------------------------------------------------------------------


def _send_webhook(run: TrainingRun, config: TrainerConfig) -> None:
    import httpx

    from activelearning.outbound import check_outbound_url, post_outbound, sign

    try:
        check_outbound_url(config.webhook_url)
    except InvalidInput as exc:
        raise TrainingFailed(f"the training pipeline's URL is not allowed: {exc}") from exc
    from activelearning.datasets.download_links import signed_download_path
    from activelearning.datasets.exports import request_export

    nonce = secrets.token_hex(16)
    TrainingRun.objects.filter(pk=run.pk).update(callback_nonce=nonce)
    # The pipeline fetches the dataset itself, through a signed expiring link (it has no account here).
    export = request_export(version=run.dataset_version, user=None, format="yolo")
    base = settings.LOUPE_PUBLIC_URL
    body = json.dumps({"run": run.pk, "project": run.project_id, "dataset_version": run.dataset_version.number,
                       "dataset_hash": run.dataset_version.content_hash, "nonce": nonce,
                       "dataset_url": base + signed_download_path(export), "dataset_format": "yolo",
                       "callback": f"{base}/api/v1/training-runs/{run.pk}/callback",
                       "sent_at": timezone.now().isoformat()}, sort_keys=True).encode()
    try:
        response = post_outbound(config.webhook_url, content=body, timeout=10, headers={
            "Content-Type": "application/json", "X-Loupe-Signature": sign(config.webhook_secret, body)})
    except InvalidInput as exc:
        raise TrainingFailed(f"the training pipeline's URL is not allowed: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TrainingFailed(f"the training pipeline could not be reached: {exc}") from exc
    if response.status_code >= 300:
        raise TrainingFailed(f"the training pipeline answered {response.status_code}")


def accept_callback(*, run: TrainingRun, payload: bytes, model_file: Path | None) -> TrainingRun:
    """The external pipeline's answer, once its signature and body were verified (`training_callback`): it must
    carry this run's one-time nonce, so a replay inside the signature's time window is refused too."""
    try:
        answer = json.loads(payload)
        if not isinstance(answer, dict):
            raise TypeError("not an object")
    except (ValueError, TypeError) as exc:
        raise InvalidInput("The callback payload is not a JSON object.", code="invalid_callback") from exc
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if (locked.status != TrainingStatus.RUNNING or not locked.callback_nonce
                or not hmac.compare_digest(locked.callback_nonce, str(answer.get("nonce", "")))):
            raise Conflict("This run does not expect this callback (replayed or already answered).",
                           code="callback_replayed")
        TrainingRun.objects.filter(pk=run.pk).update(callback_nonce="")  # one answer per nonce
    locked.refresh_from_db()
    if answer.get("status") != "succeeded" or model_file is None:
        _finish(locked, status=TrainingStatus.FAILED, error=str(answer.get("error", "the pipeline failed"))[:4000],
                log=str(answer.get("log", "")))
        return locked
    try:
        model = _register_output(locked, model_file, take_file=True)  # the callback's one temporary file
    except Exception as exc:  # noqa: BLE001 - a rejected model fails the run with the reason
        _finish(locked, status=TrainingStatus.FAILED, error=f"the model was refused: {exc}")
        return locked
    _finish(locked, status=TrainingStatus.SUCCEEDED, log=str(answer.get("log", "")), model=model)
    return locked
