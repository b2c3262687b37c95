"""A content-addressed media spool: each frame or clip is stored once, under its sha256, within a disk budget.

Files are written to a temporary file, fsynced and renamed into place (and the folder fsynced), so a file under
a hash name is always whole. When a new file would exceed the budget, the oldest files that no pending event
needs are pruned first.

Several processes may use one spool at once (`run` beside capturing camera loops, `enqueue`, `status`):
temporary files are each process's own and only a dead writer's are swept (edge/tempfolder.py), and storing
media plus queueing its event excludes pruning across processes too (`Spool.lock`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from edge.tempfolder import TempFolder

_CONTENT_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


class SpoolFull(RuntimeError):
    """New media refused: the budget is used up by media that pending events still need.

    Why refuse rather than prune those: pruning media a queued event needs would turn that event into one the
    server can only reject (`asset_missing` forever), a silent loss of something the device promised to
    deliver. Refusing at capture time is loud and immediate: the camera loop drops this frame knowingly, the
    refusal is counted (reported as dropped frames in the heartbeat), and space comes back as the backlog
    drains."""


class HashMismatch(RuntimeError):
    """A spooled file no longer hashes to its name: local corruption (bad storage, a torn write)."""


def sniff_content_type(head: bytes) -> str:
    """The media type from the file's first bytes (JPEG, PNG or an MP4 `ftyp` box)."""
    for magic, content_type in _CONTENT_TYPES:
        if head.startswith(magic):
            return content_type
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return "application/octet-stream"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolLock:
    """Exclusive across threads (a re-entrant lock) and across processes (`flock` on `spool/.lock`), so that no
    process prunes media another has just stored for the event it is about to queue. Re-entrant: `capture`
    holds it around `put`, which takes it again to prune."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._fd: int | None = None
        self._fd_pid = 0
        self._depth = 0

    def __enter__(self) -> SpoolLock:
        self._thread.acquire()
        try:
            if self._depth == 0:
                if self._fd is None or self._fd_pid != os.getpid():  # a forked child opens its own
                    self._fd, self._fd_pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644), os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()


def _size(path: Path) -> int:
    """The file's size, or 0 if another process pruned it since we listed the folder."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class Spool:
    """Media on the device's disk, named by sha256, never above `budget_bytes` in total.

    `needed` returns the hashes pending events still need (normally `Outbox.pending_assets`); those are never
    pruned."""

    def __init__(self, root: Path | str, *, budget_bytes: int, needed: Callable[[], set[str]]) -> None:
        self.root = Path(root)
        self.tmp = self.root / ".tmp"
        self.quarantine_dir = self.root / "quarantine"
        for folder in (self.root, self.quarantine_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.temps = TempFolder(self.tmp)  # from here on, this process's temporary files are spared
        self.temps.sweep()  # writes a kill interrupted (never renamed, so never named); live writers' stay
        self.budget_bytes = budget_bytes
        self.needed = needed
        self.refused = 0  # new media refused for lack of space since start
        self.pruned = 0
        self._lock = SpoolLock(self.root / ".lock")
        self._used = self._disk_usage()

    @property
    def lock(self) -> SpoolLock:
        """Hold while storing media and queueing the event that needs it, so pruning cannot fall between."""
        return self._lock

    def _disk_usage(self) -> int:
        return sum(_size(p) for p in self._files())

    def _files(self) -> list[Path]:
        return [p for p in self.root.iterdir() if p.is_file() and len(p.name) == 64]

    def path(self, sha256: str) -> Path:
        return self.root / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    @property
    def used_bytes(self) -> int:
        return self._used

    def put(self, data: bytes) -> str:
        """Store media (once per content) and return its sha256. Raises SpoolFull if it cannot fit."""
        sha256 = hashlib.sha256(data).hexdigest()
        with self._lock:
            target = self.path(sha256)
            if target.is_file():
                os.utime(target)  # fresh again: the oldest are pruned first
                return sha256
            if len(data) > self.budget_bytes - self._used:
                self._used = self._disk_usage()  # other processes store and prune too: count afresh
            if len(data) > self.budget_bytes - self._used:
                self._prune(len(data) - (self.budget_bytes - self._used))
            tmp = self.temps.path(sha256)
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            _fsync_dir(self.root)
            self._used += len(data)
        return sha256

    def _prune(self, need: int) -> None:
        """Free at least `need` bytes by deleting the oldest media no pending event needs, or refuse."""
        keep = self.needed()
        candidates = []
        for p in self._files():
            if p.name not in keep:
                try:
                    stat = p.stat()
                except FileNotFoundError:  # pruned by another process since the listing
                    continue
                candidates.append((stat.st_mtime, p.name, stat.st_size))
        if sum(size for _, _, size in candidates) < need:
            self.refused += 1
            raise SpoolFull(f"the media spool is full: {self._used} of {self.budget_bytes} bytes are media that "
                            f"pending events still need; this file ({need} bytes over) is refused")
        freed = 0
        for _, name, size in sorted(candidates):
            if freed >= need:
                break
            self.path(name).unlink(missing_ok=True)
            self._used -= size
            self.pruned += 1
            freed += size

    def read(self, sha256: str) -> bytes:
        """The media's bytes, checked against its name. Raises HashMismatch or FileNotFoundError."""
        data = self.path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise HashMismatch(f"spooled media {sha256} is corrupt: its content no longer matches its hash")
        return data

    def quarantine(self, sha256: str) -> None:
        """Move a corrupt file aside (kept for a look, no longer counted or served)."""
        with self._lock:
            path = self.path(sha256)
            if path.is_file():
                os.replace(path, self.quarantine_dir / sha256)
                self._used = self._disk_usage()  # the file may have changed size
