"""Media upload: stream to a temporary file while hashing, verify, inspect, then move into place atomically.

Nothing appears under a hash until the bytes are complete, hash to it, and pass inspection; a cut-off or
refused upload leaves no file and no row.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from activelearning.ingest.media_checks import (
    SUPPORTED_TYPES,
    MediaLimits,
    MediaRejected,
    inspect_media,
)
from annotations.errors import Conflict, InvalidInput, LoupeError, TooLarge, UnsupportedMedia
from annotations.models import Asset, AssetHolding, Device

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4"}
_CHUNK = 256 * 1024


def check_sha256(value: str) -> str:
    if not SHA256_RE.fullmatch(value):
        raise InvalidInput("The hash must be 64 lowercase hex characters.", code="invalid_sha256",
                           details={"sha256": value[:80]})
    return value


def storage_name(sha256: str, content_type: str) -> str:
    """Where an asset lives in media storage: fanned out by hash prefix."""
    return f"assets/{sha256[:2]}/{sha256[2:4]}/{sha256}.{_EXTENSIONS[content_type]}"


@dataclass
class UploadOutcome:
    asset: Asset
    created: bool


def media_limits() -> MediaLimits:
    return MediaLimits(
        max_pixels=settings.LOUPE_MAX_PIXELS,
        max_clip_seconds=settings.LOUPE_MAX_CLIP_SECONDS,
        max_clip_frames=settings.LOUPE_MAX_CLIP_FRAMES,
    )


def store_media(
    *, device: Device, sha256: str, content_type: str, content_length: int | None, read: Callable[[int], bytes]
) -> UploadOutcome:
    """Receive an upload for `sha256` into the device's project.

    Idempotent per project: a hash the project already holds is returned as is (200, body unread). A hash
    stored only for other projects is answered like a new one (201): the body is read and must hash to it
    before the project holds the asset, so knowing a hash never grants its media, and the answer never tells
    that another project has those bytes. The file itself is stored once, whoever uploaded it first.
    """
    check_sha256(sha256)
    if content_length == 0:
        raise InvalidInput("The body is empty.", code="empty_body")
    content_type = content_type.split(";")[0].strip().lower()
    if content_type not in SUPPORTED_TYPES:
        raise UnsupportedMedia(f"Content-Type must be one of {', '.join(SUPPORTED_TYPES)}.",
                               details={"content_type": content_type})
    if content_length is not None and content_length > settings.LOUPE_MAX_UPLOAD_BYTES:
        raise TooLarge(f"The body is {content_length} bytes; the limit is {settings.LOUPE_MAX_UPLOAD_BYTES}.",
                       code="body_too_large", details={"max_bytes": settings.LOUPE_MAX_UPLOAD_BYTES})
    existing = (Asset.objects.filter(sha256=sha256)
                .annotate(held=Exists(AssetHolding.objects.filter(project_id=device.project_id, asset=OuterRef("pk"))))
                .first())
    if existing is not None and existing.held:
        return UploadOutcome(existing, created=False)

    tmp_dir = Path(settings.LOUPE_UPLOAD_TMP_DIR)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".part")
    tmp_path = Path(tmp_name)
    try:
        size = _receive(fd, read, content_length, sha256)
        if existing is not None:  # the same bytes (they hash alike), already inspected and stored
            if existing.content_type != content_type:  # answered as for new bytes declared wrongly
                raise UnsupportedMedia(
                    f"The body is {existing.content_type}, not {content_type} as declared.",
                    code="content_type_mismatch", details={"declared": content_type,
                                                           "detected": existing.content_type})
            if existing.media_deleted_at is not None or not default_storage.exists(str(existing.file.name)):
                # Retention deleted these bytes when no project held them any more (or was deleting them as
                # this upload came): this upload brings them back.
                _move_into_storage(tmp_path, str(existing.file.name))
                Asset.objects.filter(pk=existing.pk).update(media_deleted_at=None)
            return UploadOutcome(existing, created=_hold(device, existing))
        try:
            info = inspect_media(tmp_path, claimed_type=content_type, limits=media_limits())
        except MediaRejected as exc:
            raise LoupeError(exc.message, code=exc.code, status=exc.status, details=exc.details) from exc
        name = storage_name(sha256, info.content_type)
        _move_into_storage(tmp_path, name)
        try:
            with transaction.atomic():
                asset = Asset.objects.create(
                    sha256=sha256, kind=info.kind, content_type=info.content_type, file=name, size_bytes=size,
                    width=info.width, height=info.height, fps=info.fps, frame_count=info.frame_count,
                    duration_seconds=info.duration_seconds, brightness=info.quality.brightness,
                    blur=info.quality.blur, uploaded_by=device,
                )
                AssetHolding.objects.create(project_id=device.project_id, asset=asset)
        except IntegrityError:
            # A concurrent upload of the same bytes won; the file it stored is identical to ours.
            asset = Asset.objects.get(sha256=sha256)
            return UploadOutcome(asset, created=_hold(device, asset))
        return UploadOutcome(asset, created=True)
    finally:
        tmp_path.unlink(missing_ok=True)


def _hold(device: Device, asset: Asset) -> bool:
    """Record that the device's project holds `asset` (its bytes verified); False if it already did."""
    _, created = AssetHolding.objects.get_or_create(project_id=device.project_id, asset=asset)
    return created


def _receive(fd: int, read: Callable[[int], bytes], content_length: int | None, sha256: str) -> int:
    """Copy the body to `fd`, hashing as it goes; never hold more than one chunk in memory."""
    digest = hashlib.sha256()
    size = 0
    limit = settings.LOUPE_MAX_UPLOAD_BYTES
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The body exceeds the limit of {limit} bytes.", code="body_too_large",
                               details={"max_bytes": limit})
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if size == 0:
        raise InvalidInput("The body is empty.", code="empty_body")
    if content_length is not None and size != content_length:
        raise InvalidInput(f"The body was cut off: {size} of {content_length} bytes arrived.",
                           code="incomplete_body", details={"received": size, "expected": content_length})
    actual = digest.hexdigest()
    if actual != sha256:
        raise Conflict("The body does not hash to the sha256 in the URL.", code="hash_mismatch",
                       details={"expected": sha256, "actual": actual})
    return size


def _move_into_storage(tmp_path: Path, name: str) -> None:
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        final = Path(storage.path(name))
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, final)  # atomic on one filesystem: readers see all of it or nothing
        return
    # Object stores create an object atomically on a completed PUT; identical bytes make overwrite harmless.
    with tmp_path.open("rb") as handle:
        storage.save(name, File(handle))
