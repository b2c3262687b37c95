"""An import's archive (a zip, or a plain tar as Loupe's exports write them), read member by member in memory
without extracting anything: bounded in members (3 per image an import may hold, plus a few) and in the
uncompressed bytes read, counted while decompressing, never taken from the headers, against the budget of a
plain file (LOUPE_MAX_IMPORT_BYTES): a zip bomb is a 413 after at most that many bytes. Only regular files are
members (no links, no directories); a zip member compressed other than stored or deflated is refused (bzip2 and
LZMA decompress unboundedly per read).
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any, NoReturn

from django.conf import settings

from annotations.errors import InvalidInput, TooLarge

MEMBERS_PER_IMAGE, SPARE_MEMBERS = 3, 16
_CHUNK = 64 * 1024
# What zipfile and tarfile raise on a corrupt archive (fuzzing found each): a bad header or CRC, a bad deflate
# stream, a negative seek from a wild offset, an unknown zip version, an encrypted member (RuntimeError), a bad
# field (struct.error), a name that is not UTF-8. Each is the sender's file, a 400.
_CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, zlib.error, struct.error, EOFError, OSError,
            ValueError, OverflowError, RuntimeError, NotImplementedError, UnicodeError)


class ImportRejected(InvalidInput):
    """A file an import cannot take: 400 `invalid_import`, saying where (member, line, record, field)."""

    code = "invalid_import"


def reject(message: str, where: dict[str, Any], **details: Any) -> NoReturn:
    raise ImportRejected(message, details={**where, **details})


class ImportArchive:
    """The members of a zip or a plain tar, read one at a time against one budget of uncompressed bytes."""

    def __init__(self, names: list[str], opener: Callable[[str], IO[bytes]]) -> None:
        limit = settings.LOUPE_MAX_IMPORT_TASKS * MEMBERS_PER_IMAGE + SPARE_MEMBERS
        if len(names) > limit:
            raise TooLarge("Too many members in the archive.", details={"max": limit, "count": len(names)})
        self.names = names
        self._open = opener
        self._left = settings.LOUPE_MAX_IMPORT_BYTES

    @classmethod
    def of_zip(cls, body: bytes) -> ImportArchive:
        try:
            archive = zipfile.ZipFile(io.BytesIO(body))
        except _CORRUPT as exc:
            reject("Not a readable zip archive.", {"file": "$"}, reason=str(exc)[:200])
        infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}

        def opener(name: str) -> IO[bytes]:
            if infos[name].compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                reject("A member is compressed other than stored or deflated.", {"file": name})
            return archive.open(infos[name])

        return cls([_clean(name) for name in infos], lambda name: opener(_raw(infos, name)))

    @classmethod
    def of_tar(cls, body: bytes) -> ImportArchive:
        try:
            archive = tarfile.open(fileobj=io.BytesIO(body), mode="r:")  # noqa: SIM115 (in memory)
            members = {m.name: m for m in archive.getmembers() if m.isfile()}
        except _CORRUPT as exc:
            reject("Not a readable tar archive.", {"file": "$"}, reason=str(exc)[:200])

        def opener(name: str) -> IO[bytes]:
            handle = archive.extractfile(members[name])
            assert handle is not None  # a regular file always has its data
            return handle

        return cls([_clean(name) for name in members], lambda name: opener(_raw(members, name)))

    def read(self, name: str) -> bytes:
        chunks = []
        try:
            with self._open(name) as handle:
                while chunk := handle.read(_CHUNK):
                    self._left -= len(chunk)
                    if self._left < 0:
                        raise TooLarge("The archive's label files are too large uncompressed.", details={
                            "file": name, "max_bytes": settings.LOUPE_MAX_IMPORT_BYTES})
                    chunks.append(chunk)
        except _CORRUPT as exc:
            reject("An archive member cannot be read.", {"file": name}, reason=str(exc)[:200])
        return b"".join(chunks)


def _clean(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _raw(members: dict[str, Any], name: str) -> str:
    return name if name in members else f"./{name}"
