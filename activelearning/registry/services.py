"""Model registry services: register an uploaded ONNX detector, move it through candidate → shadow → champion,
roll back, and take a failing model out of service (DESIGN.md, "Model registry").

Validation runs `activelearning.registry.onnx_probe` in a child process with memory, CPU and wall-clock limits: a
hostile or broken file can kill that process, never the web server or a worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from activelearning.registry.models import ModelStatus, ModelVersion
from annotations import audit, events
from annotations.errors import Conflict, InvalidInput, TooLarge, Unprocessable
from annotations.models import Project
from reviewer import realtime

CHUNK = 1024 * 1024


class ModelRejected(Unprocessable):
    """The file is not a detector Loupe can run (422, with the probe's reason as the code)."""

    code = "model_rejected"


class NoPreviousChampion(Conflict):
    code = "no_previous_champion"


class NotChampion(Conflict):
    code = "not_champion"


class InvalidTransition(Conflict):
    code = "invalid_transition"


@dataclass(frozen=True)
class ModelUpload:
    file: UploadedFile
    name: str
    classes: list[str] | None = None
    input_size: tuple[int, int] | None = None
    conf_threshold: float | None = None


def _copy_and_hash(upload: File, limit: int) -> tuple[Path, str, int]:
    """The upload in a private temporary file, its sha256 and size; over `limit` bytes is 413."""
    digest, size = hashlib.sha256(), 0
    handle, name = tempfile.mkstemp(prefix="model-", suffix=".onnx", dir=settings.LOUPE_UPLOAD_TMP_DIR)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in upload.chunks(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge("The model file exceeds the size limit.", code="model_too_large",
                                   details={"max_bytes": limit})
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest(), size


def _hash_file(path: Path, limit: int) -> tuple[str, int]:
    """The sha256 and size of a file; over `limit` bytes is 413."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge("The model file exceeds the size limit.", code="model_too_large",
                               details={"max_bytes": limit})
            digest.update(chunk)
    return digest.hexdigest(), size


def probe_model(path: Path, *, classes: list[str] | None, input_size: tuple[int, int] | None) -> dict[str, Any]:
    """Run the validation probe in a limited child process; its facts, or ModelRejected with the reason."""
    argv = [sys.executable, "-m", "activelearning.registry.onnx_probe", str(path),
            "--max-memory-mb", str(settings.LOUPE_MODEL_PROBE_MEMORY_MB),
            "--max-cpu-seconds", str(settings.LOUPE_MODEL_PROBE_SECONDS)]
    if classes is not None:
        argv += ["--classes", json.dumps(classes)]
    if input_size is not None:
        argv += ["--input-size", str(input_size[0]), str(input_size[1])]
    # The child sees no secrets: only what Python needs to import the probe.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(settings.BASE_DIR), "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, timeout=settings.LOUPE_MODEL_PROBE_SECONDS + 5,  # noqa: S603
                              env=env, cwd=str(path.parent), check=False)
    except subprocess.TimeoutExpired as exc:
        raise ModelRejected("Validating the model took too long.", code="model_timeout",
                            details={"max_seconds": settings.LOUPE_MODEL_PROBE_SECONDS}) from exc
    try:
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):  # the CPU-time limit
            raise ModelRejected("Validating the model took too long.", code="model_timeout",
                                details={"max_seconds": settings.LOUPE_MODEL_PROBE_SECONDS}) from exc
        # Out of memory in native code (abort) or another crash.
        raise ModelRejected("The model crashed or exceeded the limits while being validated.",
                            code="model_crashed", details={"exit_code": done.returncode,
                                                           "stderr": done.stderr.decode(errors="replace")[-300:]}) from exc
    if not result.pop("ok"):
        raise ModelRejected(result["message"], code=result["code"], details=result["details"])
    return result  # type: ignore[no-any-return]


def register_model(*, project: Project, user: User, upload: ModelUpload) -> ModelVersion:
    """Validate an uploaded ONNX detector and store it as a candidate of the project."""
    Path(settings.LOUPE_UPLOAD_TMP_DIR).mkdir(parents=True, exist_ok=True)
    path, sha256, size = _copy_and_hash(upload.file, int(settings.LOUPE_MAX_MODEL_BYTES))
    return _register_path(project=project, user=user, path=path, sha256=sha256, size=size, name=upload.name,
                          classes=upload.classes, input_size=upload.input_size, conf_threshold=upload.conf_threshold)


def register_model_file(*, project: Project, path: Path, name: str, user: User | None,
                        conf_threshold: float | None = None, take_file: bool = False) -> ModelVersion:
    """A model a trainer produced: the same validation as an upload, then a candidate. With `take_file` the
    file at `path` (a temporary file of the caller's) is validated where it is and removed, not copied first."""
    Path(settings.LOUPE_UPLOAD_TMP_DIR).mkdir(parents=True, exist_ok=True)
    if take_file:
        copy, sha256, size = path, *_hash_file(path, int(settings.LOUPE_MAX_MODEL_BYTES))
    else:
        with path.open("rb") as f:
            copy, sha256, size = _copy_and_hash(File(f), int(settings.LOUPE_MAX_MODEL_BYTES))
    return _register_path(project=project, user=user, path=copy, sha256=sha256, size=size, name=name,
                          classes=None, input_size=None, conf_threshold=conf_threshold)


DEFAULT_CONF_THRESHOLD = 0.25


def operating_point(*, project: Project, given: float | None) -> tuple[float, dict[str, Any]]:
    """The score threshold a new model runs at, and where it came from (stored with the model and shown beside
    its evaluation): the one given at upload, else the champion's (a re-upload of the champion's weights must
    score exactly as the champion does), else the default."""
    if given is not None:
        return given, {"score_threshold": given, "source": "given"}
    champion = champion_of(project.pk)
    if champion is not None:
        return champion.conf_threshold, {"score_threshold": champion.conf_threshold, "source": "champion",
                                         "champion": champion.display_name}
    return DEFAULT_CONF_THRESHOLD, {"score_threshold": DEFAULT_CONF_THRESHOLD, "source": "default"}


def _register_path(*, project: Project, user: User | None, path: Path, sha256: str, size: int, name: str,
                   classes: list[str] | None, input_size: tuple[int, int] | None,
                   conf_threshold: float | None) -> ModelVersion:
    try:
        if ModelVersion.objects.filter(project=project, sha256=sha256).exists():
            raise Conflict("This model file is already registered in the project.", code="model_exists",
                           details={"sha256": sha256})
        facts = probe_model(path, classes=classes, input_size=input_size)
        unknown = [c for c in facts["classes"] if c not in (project.label_classes or [])]
        if unknown:
            raise InvalidInput("The model's classes are not all labels of the project.", code="invalid_class_map",
                               details={"unknown": unknown, "project_labels": project.label_classes})
        stored = f"models/{sha256}.onnx"
        if not default_storage.exists(stored):
            with path.open("rb") as f:
                default_storage.save(stored, File(f))
    finally:
        path.unlink(missing_ok=True)
    facts["conf_threshold"], facts["operating_point"] = operating_point(project=project, given=conf_threshold)
    return _create_version(project=project, user=user, name=name, file=stored, sha256=sha256, size=size,
                           facts=facts)


def _create_version(*, project: Project, user: User | None, name: str, file: str, sha256: str, size: int,
                    facts: dict[str, Any]) -> ModelVersion:
    for _ in range(3):  # two uploads at once may pick the same number: the constraint decides, retry
        try:
            with transaction.atomic():
                number = (ModelVersion.objects.filter(project=project).aggregate(n=Max("version"))["n"] or 0) + 1
                model = ModelVersion.objects.create(
                    project=project, name=name, version=number, file=file, sha256=sha256, size_bytes=size,
                    input_width=facts["input_width"], input_height=facts["input_height"], classes=facts["classes"],
                    opset=facts.get("opset"), uploaded_by=user, conf_threshold=facts["conf_threshold"],
                    metadata={k: facts[k] for k in ("num_candidates", "test_inference_ms", "producer", "metadata",
                                                    "output_shape", "operating_point") if k in facts},
                )
                audit.record(action="model.uploaded", obj_type="model_version", obj_id=model.pk,
                             project_id=project.pk, actor=user, after={"sha256": sha256, "version": number})
                return model
        except IntegrityError as exc:
            if "model_file_once_per_project" in str(exc):
                raise Conflict("This model file is already registered in the project.", code="model_exists",
                               details={"sha256": sha256}) from exc
    raise Conflict("Another upload took this version number; try again.", code="version_race")


@transaction.atomic
def promote_model(*, model: ModelVersion, user: User | None, to: str) -> ModelVersion:
    """An admin's approval: candidate → shadow, or candidate/shadow → champion (the old champion retires and
    is remembered as the rollback target). Audited; devices see the new champion on their next check."""
    locked = list(ModelVersion.objects.select_for_update().filter(project_id=model.project_id).order_by("pk"))
    model = next(m for m in locked if m.pk == model.pk)
    allowed: dict[str, set[str]] = {ModelStatus.SHADOW: {ModelStatus.CANDIDATE},
               ModelStatus.CHAMPION: {ModelStatus.CANDIDATE, ModelStatus.SHADOW, ModelStatus.RETIRED}}
    if to not in allowed or model.status not in allowed[to]:
        raise InvalidTransition(f"A {model.status} model cannot become {to}.",
                                details={"status": model.status, "to": to})
    if model.out_of_service and to == ModelStatus.CHAMPION:
        raise InvalidTransition("This model was taken out of service after failing; it cannot be champion.",
                                details={"reason": model.out_of_service_reason})
    before = model.status
    if to == ModelStatus.CHAMPION:
        previous = next((m for m in locked if m.status == ModelStatus.CHAMPION), None)
        if previous is not None:
            previous.status = ModelStatus.RETIRED
            previous.save(update_fields=["status"])
        model.replaces = previous
        model.approved_by, model.promoted_at = user, timezone.now()
    model.status = to
    model.save(update_fields=["status", "replaces", "approved_by", "promoted_at"])
    audit.record(action="model.promoted", obj_type="model_version", obj_id=model.pk, project_id=model.project_id,
                 actor=user, before={"status": before},
                 after={"status": to, "replaces": model.replaces_id if to == ModelStatus.CHAMPION else None})
    realtime.publish(project_id=model.project_id,
                     message={"type": "model.promoted", "model": model.pk, "status": to, "sha256": model.sha256})
    if to == ModelStatus.CHAMPION:
        _announce_promoted(model, replaces=model.replaces_id, rolled_back=False)
    return model


@transaction.atomic
def rollback_champion(*, model: ModelVersion, user: User) -> ModelVersion:
    """One action: the champion retires and the one it replaced is champion again (409 if there is none)."""
    locked = list(ModelVersion.objects.select_for_update().filter(project_id=model.project_id).order_by("pk"))
    current = next(m for m in locked if m.pk == model.pk)
    if current.status != ModelStatus.CHAMPION:
        raise NotChampion("Only the current champion can be rolled back.", details={"status": current.status})
    previous = next((m for m in locked if m.pk == current.replaces_id), None)
    if previous is None:
        raise NoPreviousChampion("There is no previous champion to restore.")
    current.status = ModelStatus.RETIRED
    current.save(update_fields=["status"])
    previous.status, previous.promoted_at, previous.approved_by = ModelStatus.CHAMPION, timezone.now(), user
    previous.save(update_fields=["status", "promoted_at", "approved_by"])
    audit.record(action="model.rolled_back", obj_type="model_version", obj_id=current.pk,
                 project_id=current.project_id, actor=user, before={"champion": current.pk},
                 after={"champion": previous.pk})
    realtime.publish(project_id=current.project_id,
                     message={"type": "model.promoted", "model": previous.pk, "status": ModelStatus.CHAMPION,
                              "sha256": previous.sha256, "rolled_back": current.pk})
    _announce_promoted(previous, replaces=current.pk, rolled_back=True)
    return previous


def _announce_promoted(champion: ModelVersion, *, replaces: int | None, rolled_back: bool) -> None:
    """The `model.promoted` domain event (a new champion, by promotion or rollback); call in its transaction."""
    events.emit("model.promoted", project_id=champion.project_id, model=champion.pk, sha256=champion.sha256,
                version=champion.version, replaces=replaces, rolled_back=rolled_back)


def champion_of(project_id: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(project_id=project_id, status=ModelStatus.CHAMPION).first()


def model_payload(model: ModelVersion) -> dict[str, Any]:
    """A model as a device is told to fetch it (heartbeat answers, `GET /models/current`); which model a device
    runs is decided in activelearning/rollouts (pin, rollout stage, champion)."""
    return {"id": model.pk, "name": model.name, "version": str(model.version), "sha256": model.sha256,
            "size_bytes": model.size_bytes, "input_width": model.input_width,
            "input_height": model.input_height, "classes": model.classes,
            "url": f"/api/v1/models/{model.pk}/file"}


def store_weights(model: ModelVersion, path: Path) -> None:
    """Keep a trainer's weights (.npz, loaded with allow_pickle=False) with the model: fine-tuning starts there."""
    name = f"models/{model.sha256}.weights.npz"
    if not default_storage.exists(name):
        with path.open("rb") as f:
            default_storage.save(name, File(f))
    ModelVersion.objects.filter(pk=model.pk).update(metadata={**model.metadata, "weights": name})
