"""Deleting an asset's bytes from media storage: the upload and every derived frame, thumbnail and blurred
variant cached beside it (`annotations.frame_cache`). Idempotent: a file already gone is no error, so a prune
interrupted half way finishes on its next run."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.core.files.storage import FileSystemStorage, Storage, default_storage

from annotations.frame_cache import frames_prefix


def delete_asset_files(*, name: str, sha256: str, storage: Storage | None = None) -> None:
    """Remove the stored upload `name` and the asset's frame cache."""
    storage = storage or default_storage
    storage.delete(name)  # both the file system and S3 storages take a missing name quietly
    prefix = frames_prefix(sha256)
    if isinstance(storage, FileSystemStorage):
        shutil.rmtree(Path(storage.path(prefix)), ignore_errors=True)
        return
    _delete_tree(storage, prefix)


def _delete_tree(storage: Storage, prefix: str) -> None:
    try:
        folders, files = storage.listdir(prefix)
    except FileNotFoundError:
        return
    for folder in folders:
        _delete_tree(storage, f"{prefix}/{folder}")
    for file in files:
        storage.delete(f"{prefix}/{file}")
