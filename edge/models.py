"""Over-the-air model updates: ask for the champion by ETag, download with Range resume, verify, swap atomically.

Layout under the models folder: `<sha256>.onnx` (verified files), `active.onnx` (a symlink to the one in use,
replaced with one rename, so a reader sees the old model or the new one, never half of either), and
`download/<sha256>.part` (an unfinished download, resumed with Range). A file that does not hash to the
sha256 the server announced is deleted and never becomes active.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge.client import AuthError, TransientError, error_of, raise_for_common

CHUNK = 1 << 16


class ModelCorrupt(RuntimeError):
    """The downloaded file does not match the announced sha256 (or size); it was discarded."""


@dataclass(frozen=True)
class UpdateResult:
    status: str  # "unchanged" (304 or already active) | "updated" | "no_champion"
    sha256: str | None
    model: dict[str, Any] | None = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ModelStore:
    """The device's models and which one is active."""

    def __init__(self, root: Path | str, *, keep: int = 2) -> None:
        self.root = Path(root)
        self.downloads = self.root / "download"
        self.downloads.mkdir(parents=True, exist_ok=True)
        self.active_link = self.root / "active.onnx"
        self.keep = keep  # verified files kept (the active one and the one before, for a quick rollback)

    @property
    def active_sha256(self) -> str | None:
        """The sha256 of the active model (its file name), or None before the first model."""
        try:
            target = os.readlink(self.active_link)
        except FileNotFoundError:
            return None
        return Path(target).stem

    @property
    def active_path(self) -> Path | None:
        return self.active_link if self.active_sha256 else None

    def activate(self, sha256: str) -> None:
        """Point `active.onnx` at a verified file with one atomic rename of a symlink."""
        target = self.root / f"{sha256}.onnx"
        if not target.is_file():
            raise FileNotFoundError(target)
        tmp = self.root / f".active.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(target.name, tmp)
        os.replace(tmp, self.active_link)
        _fsync_dir(self.root)
        self._forget_old(sha256)

    def _forget_old(self, active: str) -> None:
        files = sorted((p for p in self.root.glob("*.onnx") if p.is_file() and not p.is_symlink()),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        kept = 1
        for path in files:
            if path.stem == active:
                continue
            if kept < self.keep:
                kept += 1
                continue
            path.unlink(missing_ok=True)

    def download(self, http: httpx.Client, url: str, *, sha256: str, size: int | None = None) -> Path:
        """Fetch `url` into `<sha256>.onnx`, resuming a partial download with Range; verify; fsync; rename.

        Raises ModelCorrupt (the partial file is deleted: the next try starts over), TransientError on a
        network failure (the partial file stays, the next try resumes it) or AuthError."""
        final = self.root / f"{sha256}.onnx"
        if final.is_file() and file_sha256(final) == sha256:
            return final
        part = self.downloads / f"{sha256}.part"
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-", "If-Range": f'"{sha256}"'} if have else {}
        try:
            with http.stream("GET", url, headers=headers) as response:
                raise_for_common(response, "model download")
                if response.status_code == 416:  # the part is already whole (or longer than the file)
                    pass
                elif response.status_code in (200, 206):
                    mode = "ab" if response.status_code == 206 else "wb"  # 200: the server sends it all again
                    with part.open(mode) as f:
                        for chunk in response.iter_bytes():  # as received: a break keeps all that came
                            f.write(chunk)
                        f.flush()
                        os.fsync(f.fileno())
                else:
                    response.read()
                    code, message = error_of(response)
                    raise TransientError(f"model download: HTTP {response.status_code} {code}: {message}")
        except httpx.TransportError as exc:
            raise TransientError(f"model download interrupted: {type(exc).__name__}") from exc
        actual = file_sha256(part) if part.exists() else ""
        if actual != sha256 or (size is not None and part.stat().st_size != size):
            part.unlink(missing_ok=True)
            raise ModelCorrupt(f"the downloaded model hashes to {actual or 'nothing'}, not {sha256}; discarded")
        os.replace(part, final)
        _fsync_dir(self.root)
        return final

    def check_for_update(self, http: httpx.Client) -> UpdateResult:
        """Ask for the champion with If-None-Match; download, verify and activate it if it is new."""
        active = self.active_sha256
        headers = {"If-None-Match": f'"{active}"'} if active else {}
        try:
            response = http.get("/api/v1/models/current", headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(f"model check: {type(exc).__name__}") from exc
        raise_for_common(response, "model check")
        if response.status_code == 304:
            return UpdateResult("unchanged", active)
        if response.status_code == 404:
            return UpdateResult("no_champion", active)
        if response.status_code != 200:
            raise TransientError(f"model check: HTTP {response.status_code}")
        model = response.json()
        if model["sha256"] == active:
            return UpdateResult("unchanged", active, model)
        self.download(http, model["url"], sha256=model["sha256"], size=model.get("size_bytes"))
        self.activate(model["sha256"])
        return UpdateResult("updated", model["sha256"], model)


__all__ = ["AuthError", "ModelCorrupt", "ModelStore", "UpdateResult"]
