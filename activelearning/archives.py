"""Deterministic zip and tar archives written member by member, in constant memory.

The same members in the same order give the same bytes: every header carries a fixed time (1980-01-01, the
zip epoch), owner and mode, and compression settings are fixed. That is what lets a retried export produce
a file identical to the first attempt's. Nothing here holds a whole member in memory: files are copied in
chunks, and members whose size is not known up front are either streamed (zip) or spooled to a temporary
file on disk (tar needs the size in the header).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z, the same instant as the zip headers
COPY_CHUNK = 1024 * 1024
# Already-compressed media are stored; text members are deflated at a fixed level.
STORED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".mp4"})


class ArchiveWriter:
    """Members in the order they are added; `close()` finishes the archive. Not thread-safe."""

    def __init__(self, kind: str, fileobj: IO[bytes], *, spool_dir: Path | None = None) -> None:
        if kind not in {"zip", "tar"}:
            raise ValueError(f"unknown archive kind {kind!r}")
        self.kind = kind
        self.members = 0
        self._spool_dir = spool_dir
        self._zip = zipfile.ZipFile(fileobj, "w") if kind == "zip" else None
        # Closed by close(): the archive outlives this call.
        self._tar = (tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT)  # noqa: SIM115
                     if kind == "tar" else None)

    def add_bytes(self, name: str, data: bytes) -> None:
        if self._zip is not None:  # the common small member (a label file): one writestr, no stream machinery
            self._before_member(name)
            self._zip.writestr(self._zip_info(name), data)
            self.members += 1
            return
        self.add_file(name, io.BytesIO(data), len(data))

    @staticmethod
    def _zip_info(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
        info.create_system = 3  # unix, whatever the host
        info.external_attr = 0o100644 << 16
        if os.path.splitext(name)[1].lower() in STORED_SUFFIXES:
            info.compress_type = zipfile.ZIP_STORED
        else:
            info.compress_type = zipfile.ZIP_DEFLATED  # zlib's default level
        return info

    def add_file(self, name: str, source: IO[bytes], size: int) -> None:
        """Copy `size` bytes of an open file into the archive in chunks."""
        if self._tar is not None:
            self._before_member(name)
            self._tar.addfile(self._tar_info(name, size), source)
            self.members += 1
            return
        with self.open_member(name, size=size) as out:
            shutil.copyfileobj(source, out, COPY_CHUNK)

    @contextmanager
    def open_member(self, name: str, *, size: int | None = None) -> Iterator[IO[bytes]]:
        """A writable stream for one member; `size`, when known, lets tar skip the spool."""
        self._before_member(name)
        if self._zip is not None:
            info = self._zip_info(name)
            # Unknown sizes might pass 2 GiB: zip64 headers always, so the bytes do not depend on a guess.
            with self._zip.open(info, "w", force_zip64=size is None) as out:
                yield out  # type: ignore[misc]
        else:
            assert self._tar is not None
            with tempfile.TemporaryFile(dir=self._spool_dir) as spool:
                yield spool  # type: ignore[misc]
                length = spool.tell()
                spool.seek(0)
                self._tar.addfile(self._tar_info(name, length), spool)
        self.members += 1

    def _before_member(self, name: str) -> None:
        """A seam for tests that interrupt an export halfway."""

    @staticmethod
    def _tar_info(name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, FIXED_MTIME, 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def abandon(self) -> None:
        """After a failure: release the archive without caring for its bytes (the file is thrown away)."""
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()
