"""Exports of a frozen dataset version (DESIGN.md, "DatasetVersion": exports stream from it).

`request_export` records an ExportJob and queues it; `run_export` (a Celery task's body) streams the
version's DatasetEntry rows, joined to their annotation versions and assets, in a fixed order (split, asset
sha256) through a format writer (activelearning/datasets/formats.py) into a zip or tar on disk, then moves the
finished file into media storage in one step. Memory stays flat whatever the dataset's size: rows come from
a server-side cursor, images are copied in chunks, and the archive is deterministic (activelearning/datasets/archives.py),
so an interrupted job that is run again writes the very same bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import OuterRef, Subquery, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from activelearning import jobs
from activelearning.datasets.archives import ArchiveWriter
from activelearning.datasets.formats import WRITERS, ExportImage
from activelearning.datasets.models import DatasetEntry, DatasetVersion, ExportJob, ExportStatus
from annotations import frame_cache, metrics
from annotations.errors import Conflict, InvalidInput
from annotations.models import Asset, AssetKind, Prediction, PredictionSource
from reviewer import realtime

PROGRESS_EVERY = 1000  # entries between progress updates
PUSH_EVERY_SECONDS = 2.0  # at most one progress push to the browsers per this many seconds
CHUNK = 2000  # rows per fetch from the server-side cursor


class ExportNotReady(Conflict):
    code = "export_not_ready"


def request_export(*, version: DatasetVersion, user: User | None, format: str, archive: str = "zip",
                   include_images: bool = True, image_root: str = "") -> ExportJob:
    """Record an export of `version` and queue it after the transaction commits."""
    if format not in WRITERS:
        raise InvalidInput("Unknown export format.", details={"format": format, "allowed": sorted(WRITERS)})
    if archive not in {"zip", "tar"}:
        raise InvalidInput("Unknown archive kind.", details={"archive": archive, "allowed": ["tar", "zip"]})
    job = ExportJob.objects.create(dataset_version=version, format=format, archive=archive,
                                   include_images=include_images, image_root=image_root, requested_by=user)

    jobs.kick("datasets.export", job_id=job.pk)
    return job


def export_file_name(job: ExportJob) -> str:
    version = job.dataset_version
    return f"{version.project.slug}-v{version.number}-{job.format}.{job.archive}"


def export_storage_name(job: ExportJob) -> str:
    return f"exports/{job.pk}/{export_file_name(job)}"


def check_downloadable(job: ExportJob) -> None:
    if job.status != ExportStatus.DONE or not job.file:
        raise ExportNotReady("The export is not finished.", details={"status": job.status,
                                                                     "progress": job.progress})


def run_export(*, job_id: int) -> ExportJob:
    """Write the job's archive and store it; a failure is recorded on the job and raised again.

    Safe to run again after a crash or a failure: it starts over from the first entry, and the output is
    byte-identical to what an uninterrupted run writes.
    """
    job = ExportJob.objects.select_related("dataset_version__project").get(pk=job_id)
    if job.status == ExportStatus.DONE:
        return job
    with metrics.timed(metrics.EXPORT_SECONDS, status=ExportStatus.FAILED) as labels:
        job = _write_and_store(job)
        labels["status"] = ExportStatus.DONE
    return job


def _write_and_store(job: ExportJob) -> ExportJob:
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, progress=0.0, error="",
                                               started_at=timezone.now(), attempts=job.attempts + 1)
    spool_dir = _spool_dir()
    fd, tmp_name = tempfile.mkstemp(prefix=f"export-{job.pk}-", suffix=".part", dir=spool_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as out:
            write_archive(job=job, out=out, spool_dir=spool_dir)
        size, digest = tmp.stat().st_size, file_sha256(tmp)
        name = _store(tmp, export_storage_name(job))
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, error=f"{type(exc).__name__}: {exc}",
                                                   finished_at=timezone.now())
        _announce(job, ExportStatus.FAILED)
        raise
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.DONE, progress=1.0, file=name, size_bytes=size,
                                               sha256=digest, finished_at=timezone.now())
    job.refresh_from_db()
    _announce(job, ExportStatus.DONE)
    return job


def _announce(job: ExportJob, status: str, progress: float | None = None) -> None:
    """Tell the project's browsers how the export goes: its progress while it runs, then its end (the app shows
    a progress bar, then the download link; no polling)."""
    message: dict[str, Any] = {"type": "export.status", "export": job.pk, "dataset": job.dataset_version_id,
                               "status": status}
    if progress is not None:
        message["progress"] = progress
    with transaction.atomic():
        realtime.publish(project_id=job.dataset_version.project_id, message=message)


def write_archive(*, job: ExportJob, out: IO[bytes], spool_dir: Path | None = None,
                  on_progress: Callable[[int, int], None] | None = None) -> int:
    """Stream the job's dataset version into `out` as an archive of its format; returns the image count.
    `on_progress(entries done, entries in all)` is called every PROGRESS_EVERY entries (the command line)."""
    version = job.dataset_version
    archive = ArchiveWriter(job.archive, out, spool_dir=spool_dir)
    writer = WRITERS[job.format](archive, labels=list(version.project.label_classes), spool_dir=spool_dir,
                                 dataset_name=f"{version.project.slug} v{version.number}", image_root=job.image_root)
    total = DatasetEntry.objects.filter(dataset_version=version).count() or 1
    images, pushed_at = 0, time.monotonic()
    try:
        for n, row in enumerate(_entry_rows(version, predictions=job.format == "label-studio"), start=1):
            for image in _images_of(row, include_images=job.include_images):
                writer.add(image)
                images += 1
            if n % PROGRESS_EVERY == 0:
                if on_progress is not None:
                    on_progress(n, total)
                progress = round(min(n / total, 0.99), 4)
                ExportJob.objects.filter(pk=job.pk).update(progress=progress)
                if job.pk and time.monotonic() - pushed_at >= PUSH_EVERY_SECONDS:
                    _announce(job, ExportStatus.RUNNING, progress)
                    pushed_at = time.monotonic()
        writer.finish()
    except BaseException:
        writer.spools.close()
        archive.abandon()
        raise
    archive.close()
    return images


_ROW: tuple[str, ...] = ("asset_id", "asset__sha256", "asset__kind", "asset__file", "asset__width", "asset__height",
        "asset__frame_count", "split", "site", "camera", "annotation_id", "annotation__boxes",
        "review_item__prediction__frame_index")
_PREDICTION_ROW = ("review_item__prediction__detections", "review_item__prediction__source",
                   "review_item__prediction__model_name", "review_item__prediction__model_version",
                   "server_detections", "server_model")


def _entry_rows(version: DatasetVersion, *, predictions: bool) -> Iterator[dict[str, Any]]:
    entries = DatasetEntry.objects.filter(dataset_version=version).order_by("split", "asset__sha256")
    fields = _ROW
    if predictions:
        server = (Prediction.objects.filter(asset_id=OuterRef("asset_id"), source=PredictionSource.SERVER)
                  .order_by("-id"))
        entries = entries.annotate(server_detections=Subquery(server.values("detections")[:1]),
                                   server_model=Subquery(server.values("model_name")[:1]))
        fields = _ROW + _PREDICTION_ROW
    # The boxes come as JSON text and are parsed by orjson, and the two slice keys as text: Django's JSONField
    # decoder (json.loads) was a tenth of a 1M-box export.
    entries = entries.annotate(boxes_json=Cast("annotation__boxes", TextField()),
                               site=KeyTextTransform("site", "slices"), camera=KeyTextTransform("camera", "slices"))
    for row in entries.values(*(f for f in fields if f != "annotation__boxes"), "boxes_json").iterator(chunk_size=CHUNK):
        row["annotation__boxes"] = orjson.loads(row.pop("boxes_json")) if row["boxes_json"] is not None else None
        yield row



def _suffix(file_name: str) -> str:
    suffix = os.path.splitext(file_name)[1].lower()
    return suffix if suffix in {".jpg", ".jpeg", ".png", ".webp"} else ".jpg"


def _images_of(row: dict[str, Any], *, include_images: bool) -> Iterator[ExportImage]:
    """A still is one image; a clip gives one image per annotated frame (its frame from the frame cache)."""
    sha, boxes = row["asset__sha256"], row["annotation__boxes"] or []
    common: dict[str, Any] = {
        "sha256": sha, "split": row["split"], "width": row["asset__width"], "height": row["asset__height"],
        "site": row["site"] or "", "camera": row["camera"] or "",
        "annotation_id": row["annotation_id"], "predictions": _predictions_of(row),
    }
    if row["asset__kind"] != AssetKind.CLIP:
        opener = _storage_opener(row["asset__file"]) if include_images else None
        yield ExportImage(name=f"{sha}{_suffix(row['asset__file'])}", boxes=boxes, frame_index=None,
                          open_image=opener, **common)
        return
    default_frame = row["review_item__prediction__frame_index"] or 0
    per_frame: dict[int, list[dict[str, Any]]] = {}
    for box in boxes:
        per_frame.setdefault(int(box.get("frame_index", default_frame)), []).append(box)
    last = max((row["asset__frame_count"] or 1) - 1, 0)
    for frame in sorted(per_frame) or [default_frame]:
        opener = _frame_opener(sha, min(frame, last)) if include_images else None
        yield ExportImage(name=f"{sha}_f{frame:06d}.jpg", boxes=per_frame.get(frame, []), frame_index=frame,
                          open_image=opener, **common)


def _predictions_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if row.get("review_item__prediction__detections"):
        model = row["review_item__prediction__model_name"] or row["review_item__prediction__source"]
        if row["review_item__prediction__model_version"]:
            model = f"{model}:{row['review_item__prediction__model_version']}"
        found.append({"model": model, "detections": row["review_item__prediction__detections"]})
    if row.get("server_detections"):
        found.append({"model": f"server:{row['server_model']}", "detections": row["server_detections"]})
    return found


def _storage_opener(name: str) -> Any:
    def open_image() -> tuple[IO[bytes], int]:
        if isinstance(default_storage, FileSystemStorage):  # one path lookup and one fstat, not two joins
            handle = open(default_storage.path(name), "rb")  # noqa: SIM115 - the writer closes it
            return handle, os.fstat(handle.fileno()).st_size
        return default_storage.open(name, "rb"), default_storage.size(name)
    return open_image


def _frame_opener(sha256: str, frame: int) -> Any:
    def open_image() -> tuple[IO[bytes], int]:
        frame_cache.ensure_frames(Asset.objects.get(sha256=sha256))
        name = frame_cache.frame_storage_name(sha256, frame)
        return default_storage.open(name, "rb"), default_storage.size(name)
    return open_image


def _spool_dir() -> Path | None:
    """Beside the final place when storage is local, so the last step is a rename, not a copy."""
    if isinstance(default_storage, FileSystemStorage):
        path = Path(default_storage.path("exports/.tmp"))
        path.mkdir(parents=True, exist_ok=True)
        return path
    return None


def _store(tmp: Path, name: str) -> str:
    """Move the finished file to `name` in one step: a rename on local storage, one upload otherwise."""
    if isinstance(default_storage, FileSystemStorage):
        final = Path(default_storage.path(name))
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return name
    if default_storage.exists(name):
        default_storage.delete(name)
    with tmp.open("rb") as handle:
        stored = default_storage.save(name, File(handle))
    tmp.unlink(missing_ok=True)
    return stored


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def write_export_directory(version: DatasetVersion, format: str, destination: Path) -> Path:
    """The version in `format` unpacked into `destination` (for a trainer that reads a folder)."""
    import zipfile

    destination.mkdir(parents=True, exist_ok=True)
    job = ExportJob(dataset_version=version, format=format, archive="zip", include_images=True)  # not stored
    with tempfile.TemporaryFile(dir=_spool_dir()) as out:
        write_archive(job=job, out=out, spool_dir=_spool_dir())
        out.seek(0)
        with zipfile.ZipFile(out) as archive:
            for member in archive.infolist():
                target = (destination / member.filename).resolve()
                if destination.resolve() not in target.parents:  # our own archive, but never trust a path
                    raise ValueError(f"unsafe member path {member.filename!r}")
            archive.extractall(destination)
    return destination
