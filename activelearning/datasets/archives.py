"""Deterministic zip and tar archives written member by member, in constant memory.

The same members in the same order give the same bytes: every header carries a fixed time (1980-01-01, the
zip epoch), owner and mode, and compression settings are fixed. That is what lets a retried export produce
a file identical to the first attempt's.

Nothing here grows with the archive. Member data is copied in chunks. The zip writer spools its central
directory to a temporary file instead of keeping one `ZipInfo` per member as `zipfile` does (100,000 label
files cost `zipfile` ~50 MB and a third of a YOLO export's time); the tar writer writes headers itself
instead of keeping `tarfile`'s list of every member. The output is written front to back, never seeked,
so it can be any writable stream. Members follow the formats as `zipfile`/`tarfile` read them:
- zip (PKWARE APPNOTE 6.3): a member whose bytes are at hand gets its CRC and sizes in the local header;
  a streamed member gets a data descriptor after its data (flag bit 3), with zip64 sizes when its size is
  not known up front, so the bytes never depend on a guess. Zip64 records appear only where a count, size
  or offset overflows its classic field.
- tar: GNU format headers from `tarfile.TarInfo.tobuf`, data padded to 512-byte blocks, two zero blocks and
  padding to the 10 KiB record at the end, as `tarfile` writes them.
"""

from __future__ import annotations

import contextlib
import shutil
import struct
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z, the zip epoch: DOS date 1980-01-01, time 00:00:00
COPY_CHUNK = 1024 * 1024
# Already-compressed media are stored; text members are deflated at zlib's default level.
STORED_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".mp4")

_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1
_STORED, _DEFLATED = 0, 8
_FLAG_DESCRIPTOR, _FLAG_UTF8 = 0x08, 0x800
_UNIX_FILE_0644 = 0o100644 << 16
_MAX32, _MAX16 = 0xFFFFFFFF, 0xFFFF  # also the markers that say "the real value is in the zip64 record"
# Module constants so tests can force the zip64 paths without writing 4 GiB.
ZIP64_LIMIT, ZIP64_COUNT_LIMIT = _MAX32, _MAX16

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_DESCRIPTOR_32 = struct.Struct("<4s3L")
_DESCRIPTOR_64 = struct.Struct("<4sL2Q")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")


def _field(value: int) -> int:
    """A classic 32-bit field: the value, or the marker when it is in the zip64 record instead."""
    return value if value <= ZIP64_LIMIT else _MAX32


def _stored(name: str) -> bool:
    return name.lower().endswith(STORED_SUFFIXES)


class _Counter:
    """Counts the bytes written to the output: the next member's offset, without asking a stream to seek."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.offset = out, 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.offset += len(data)


class _ZipWriter:
    def __init__(self, out: IO[bytes], spool_dir: Path | None) -> None:
        self._out = _Counter(out)
        self._central = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 - closed by close()/abandon()
        self._entries = 0

    def add_bytes(self, name: str, data: bytes) -> None:
        encoded, offset = name.encode(), self._out.offset
        method = _STORED if _stored(name) else _DEFLATED
        payload = data if method == _STORED else zlib.compress(data, -1, -15)
        crc, size, compressed = zlib.crc32(data), len(data), len(payload)
        zip64 = size > ZIP64_LIMIT or compressed > ZIP64_LIMIT
        extra = struct.pack("<2H2Q", 1, 16, size, compressed) if zip64 else b""
        self._out.write(_LOCAL.pack(b"PK\x03\x04", 45 if zip64 else 20, _FLAG_UTF8, method, _DOS_TIME, _DOS_DATE,
                                    crc, _MAX32 if zip64 else compressed, _MAX32 if zip64 else size,
                                    len(encoded), len(extra)) + encoded + extra)
        self._out.write(payload)
        self._record(encoded, _FLAG_UTF8, method, crc, compressed, size, offset)

    @contextmanager
    def open_member(self, name: str, *, size: int | None) -> Iterator[IO[bytes]]:
        encoded, offset = name.encode(), self._out.offset
        method = _STORED if _stored(name) else _DEFLATED
        # Sizes come after the data; zip64 ones whenever the size is not known to fit, decided before any byte.
        zip64 = size is None or size > ZIP64_LIMIT
        flags = _FLAG_UTF8 | _FLAG_DESCRIPTOR
        extra = struct.pack("<2H2Q", 1, 16, 0, 0) if zip64 else b""
        self._out.write(_LOCAL.pack(b"PK\x03\x04", 45 if zip64 else 20, flags, method, _DOS_TIME, _DOS_DATE, 0,
                                    0, 0, len(encoded), len(extra)) + encoded + extra)
        stream = _MemberStream(self._out, deflate=method == _DEFLATED)
        yield stream  # type: ignore[misc]
        stream.finish()
        if zip64:
            self._out.write(_DESCRIPTOR_64.pack(b"PK\x07\x08", stream.crc, stream.compressed, stream.size))
        elif stream.compressed > ZIP64_LIMIT or stream.size > ZIP64_LIMIT:
            raise ValueError(f"{name}: declared {size} bytes, wrote {stream.size}")
        else:
            self._out.write(_DESCRIPTOR_32.pack(b"PK\x07\x08", stream.crc, stream.compressed, stream.size))
        self._record(encoded, flags, method, stream.crc, stream.compressed, stream.size, offset)

    def _record(self, name: bytes, flags: int, method: int, crc: int, compressed: int, size: int,
                offset: int) -> None:
        """The member's central-directory entry, spooled; zip64 fields only for the values that overflow."""
        overflow = [value for value in (size, compressed, offset) if value > ZIP64_LIMIT]
        extra = struct.pack(f"<2H{len(overflow)}Q", 1, 8 * len(overflow), *overflow) if overflow else b""
        version = 45 if overflow else 20
        self._central.write(_CENTRAL.pack(
            b"PK\x01\x02", (3 << 8) | version, version, flags, method, _DOS_TIME, _DOS_DATE, crc,
            _field(compressed), _field(size), len(name), len(extra), 0, 0, 0, _UNIX_FILE_0644,
            _field(offset)) + name + extra)
        self._entries += 1

    def close(self) -> None:
        start, length = self._out.offset, self._central.tell()
        self._central.seek(0)
        shutil.copyfileobj(self._central, self._out, COPY_CHUNK)  # type: ignore[misc]
        self._central.close()
        entries = self._entries
        if entries > ZIP64_COUNT_LIMIT or start > ZIP64_LIMIT or length > ZIP64_LIMIT:
            end64 = self._out.offset
            self._out.write(_END64.pack(b"PK\x06\x06", _END64.size - 12, (3 << 8) | 45, 45, 0, 0, entries, entries,
                                        length, start))
            self._out.write(_END64_LOCATOR.pack(b"PK\x06\x07", 0, end64, 1))
        count = entries if entries <= ZIP64_COUNT_LIMIT else _MAX16
        self._out.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, _field(length), _field(start), 0))

    def abandon(self) -> None:
        self._central.close()


class _MemberStream:
    """The writable stream a zip member's data goes through: CRC, sizes and (for text) deflate on the way."""

    def __init__(self, out: _Counter, *, deflate: bool) -> None:
        self._out = out
        self._deflater = zlib.compressobj(-1, zlib.DEFLATED, -15) if deflate else None
        self.crc = self.size = self.compressed = 0

    def write(self, data: bytes) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._emit(self._deflater.compress(data) if self._deflater is not None else data)
        return len(data)

    def finish(self) -> None:
        if self._deflater is not None:
            self._emit(self._deflater.flush())

    def _emit(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self.compressed += len(data)


class _TarWriter:
    def __init__(self, out: IO[bytes], spool_dir: Path | None) -> None:
        self._out = _Counter(out)
        self._spool_dir = spool_dir

    def add_bytes(self, name: str, data: bytes) -> None:
        self._header(name, len(data))
        self._out.write(data)
        self._pad()

    def add_file(self, name: str, source: IO[bytes], size: int) -> None:
        self._header(name, size)
        left = size
        while left:
            chunk = source.read(min(COPY_CHUNK, left))
            if not chunk:
                raise ValueError(f"{name}: the file ended {left} bytes short of {size}")
            self._out.write(chunk)
            left -= len(chunk)
        self._pad()

    @contextmanager
    def open_member(self, name: str) -> Iterator[IO[bytes]]:
        """tar needs the size in the header: the member is spooled to a temporary file first."""
        with tempfile.TemporaryFile(dir=self._spool_dir) as spool:
            yield spool  # type: ignore[misc]
            length = spool.tell()
            spool.seek(0)
            self.add_file(name, spool, length)  # type: ignore[arg-type]

    def _header(self, name: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, FIXED_MTIME, 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._out.write(info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self) -> None:
        if remainder := self._out.offset % tarfile.BLOCKSIZE:
            self._out.write(tarfile.NUL * (tarfile.BLOCKSIZE - remainder))

    def close(self) -> None:
        self._out.write(tarfile.NUL * (tarfile.BLOCKSIZE * 2))
        if remainder := self._out.offset % tarfile.RECORDSIZE:
            self._out.write(tarfile.NUL * (tarfile.RECORDSIZE - remainder))

    def abandon(self) -> None:
        """Nothing is held open between members."""


class ArchiveWriter:
    """Members in the order they are added; `close()` finishes the archive. Not thread-safe."""

    def __init__(self, kind: str, fileobj: IO[bytes], *, spool_dir: Path | None = None) -> None:
        if kind not in {"zip", "tar"}:
            raise ValueError(f"unknown archive kind {kind!r}")
        self.kind = kind
        self.members = 0
        self._writer = _ZipWriter(fileobj, spool_dir) if kind == "zip" else _TarWriter(fileobj, spool_dir)

    def add_bytes(self, name: str, data: bytes) -> None:
        """A member whose bytes are at hand (a label file, a small document)."""
        self._before_member(name)
        self._writer.add_bytes(name, data)
        self.members += 1

    def add_file(self, name: str, source: IO[bytes], size: int) -> None:
        """Copy `size` bytes of an open file into the archive in chunks."""
        self._before_member(name)
        if isinstance(self._writer, _TarWriter):
            self._writer.add_file(name, source, size)
        else:
            with self._writer.open_member(name, size=size) as out:
                shutil.copyfileobj(source, out, COPY_CHUNK)
        self.members += 1

    @contextmanager
    def open_member(self, name: str) -> Iterator[IO[bytes]]:
        """A writable stream for one member whose size is not known up front."""
        self._before_member(name)
        member = (self._writer.open_member(name) if isinstance(self._writer, _TarWriter)
                  else self._writer.open_member(name, size=None))
        with member as out:
            yield out
        self.members += 1

    def _before_member(self, name: str) -> None:
        """A seam for tests that interrupt an export halfway."""

    def abandon(self) -> None:
        """After a failure: release what the writer holds; the partial file is thrown away."""
        with contextlib.suppress(Exception):
            self._writer.abandon()

    def close(self) -> None:
        self._writer.close()
