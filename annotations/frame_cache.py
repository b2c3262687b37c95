"""The cache of an asset's derived frames in media storage: `frames/<sha256>/<n>.jpg`, `thumb.jpg`, `done`,
and, for projects that blur faces, `frames/<sha256>/blurred/<key>-<n>.jpg` and `<key>-thumb.jpg`.

Each asset is decoded at most once: the first request takes a per-asset lock (a PostgreSQL advisory lock,
held across processes and hosts; a lock file on SQLite, which is single-host anyway), decodes everything,
and writes the `done` marker last; requests that waited find the marker and serve from the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import connection, transaction

from annotations import frames, privacy
from annotations.errors import Unprocessable
from annotations.models import Asset, AssetKind

# First argument of the two-key advisory lock, so frame locks never collide with other advisory locks.
_LOCK_NAMESPACE = 0x4C50  # "LP"


def frames_prefix(sha256: str) -> str:
    return f"frames/{sha256}"


def frame_storage_name(sha256: str, n: int) -> str:
    return f"{frames_prefix(sha256)}/{frames.frame_name(n)}"


def thumb_storage_name(sha256: str) -> str:
    return f"{frames_prefix(sha256)}/{frames.THUMB_NAME}"


def blurred_frame_storage_name(sha256: str, key: str, n: int) -> str:
    return f"{frames_prefix(sha256)}/blurred/{key}-{frames.frame_name(n)}"


def blurred_thumb_storage_name(sha256: str, key: str) -> str:
    return f"{frames_prefix(sha256)}/blurred/{key}-{frames.THUMB_NAME}"


def frame_capacity(asset: Asset) -> int:
    """How many frames the asset has as far as the upload inspection counted them (an image has one)."""
    return (asset.frame_count or 1) if asset.kind == AssetKind.CLIP else 1


def ensure_frames(asset: Asset, storage: Storage | None = None) -> int:
    """Make sure the asset's frames and thumbnail are in the cache; return how many frames it has."""
    storage = storage or default_storage
    done = f"{frames_prefix(asset.sha256)}/{frames.DONE_MARKER}"
    if storage.exists(done):
        return _read_count(storage, done)
    with asset_lock(asset.sha256):
        if storage.exists(done):  # decoded by the request we waited for
            return _read_count(storage, done)
        try:
            return _extract(asset, storage).frames
        except frames.FramesUnreadable as exc:
            # It passed inspection at upload, so the stored file was damaged since: say so, do not 500.
            raise Unprocessable("The stored media no longer decodes.", code="corrupt_media",
                                details={"sha256": asset.sha256}) from exc


def ensure_blurred_frame(asset: Asset, n: int, *, heads: list[privacy.Box], key: str,
                         storage: Storage | None = None) -> None:
    """Make sure frame `n` with faces and `heads` blurred is cached under `key` (`privacy.variant_key(heads)`),
    and for frame 0 the thumbnail made from it. Precondition: frame `n` exists (`ensure_frames`).

    No lock: the output is a function of the frame, `heads` and the algorithm, so two requests that race write
    the same bytes, each by an atomic replace (a storage that cannot replace may keep a spare copy).
    """
    storage = storage or default_storage
    name = blurred_frame_storage_name(asset.sha256, key, n)
    thumb = blurred_thumb_storage_name(asset.sha256, key)
    if storage.exists(name) and (n != 0 or storage.exists(thumb)):
        return
    with storage.open(frame_storage_name(asset.sha256, n), "rb") as handle:
        pixels = cv2.imdecode(np.frombuffer(handle.read(), dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise Unprocessable("A cached frame no longer decodes.", code="corrupt_media",
                            details={"sha256": asset.sha256, "n": n})
    blurred = privacy.blur_faces(pixels, heads).image
    if n == 0:  # the thumbnail is the blurred frame 0 made small, never a blur of the small one
        _write(storage, thumb, frames.encode_jpeg(frames.thumbnail(blurred)))
    _write(storage, name, frames.encode_jpeg(blurred))


def _write(storage: Storage, name: str, data: bytes) -> None:
    if isinstance(storage, FileSystemStorage):
        path = Path(storage.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        frames.write_atomically(path, data)
    elif not storage.exists(name):
        storage.save(name, ContentFile(data))


def _read_count(storage: Storage, name: str) -> int:
    with storage.open(name, "rb") as handle:
        return int(handle.read().decode())


@contextmanager
def asset_lock(sha256: str) -> Iterator[None]:
    """Hold a lock on this asset's frame cache, across processes, until the block ends."""
    key = int.from_bytes(hashlib.sha256(sha256.encode()).digest()[:4], "big", signed=True)
    if connection.vendor == "postgresql":
        # A transaction-level lock is released on commit or rollback, so a crash cannot leave it held.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, key])
            yield
        return
    lock_dir = Path(settings.MEDIA_ROOT) / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"frames-{sha256}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _extract(asset: Asset, storage: Storage) -> frames.Extraction:
    with _local_source(asset, storage) as source:
        if isinstance(storage, FileSystemStorage):
            return _decode(asset, source, Path(storage.path(frames_prefix(asset.sha256))))
        # Object storage: decode into a local folder, then upload, the marker last.
        with tempfile.TemporaryDirectory(prefix="loupe-frames-") as tmp:
            result = _decode(asset, source, Path(tmp))
            done = Path(tmp) / frames.DONE_MARKER
            for path in [*sorted(p for p in Path(tmp).iterdir() if p != done), done]:
                with path.open("rb") as handle:
                    storage.save(f"{frames_prefix(asset.sha256)}/{path.name}", File(handle))
            return result


def _decode(asset: Asset, source: Path, out_dir: Path) -> frames.Extraction:
    if asset.kind == AssetKind.CLIP:
        return frames.extract_clip(source, out_dir, max_frames=settings.LOUPE_MAX_CLIP_FRAMES)
    return frames.extract_image(source, out_dir, is_jpeg=asset.content_type == "image/jpeg")


@contextmanager
def _local_source(asset: Asset, storage: Storage) -> Iterator[Path]:
    """A local path to the asset's bytes: OpenCV reads files, not storage objects."""
    name = str(asset.file.name)
    if isinstance(storage, FileSystemStorage):
        yield Path(storage.path(name))
        return
    with tempfile.NamedTemporaryFile(prefix="loupe-asset-") as tmp, storage.open(name, "rb") as src:
        shutil.copyfileobj(src, tmp)
        tmp.flush()
        yield Path(tmp.name)
