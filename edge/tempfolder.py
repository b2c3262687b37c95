"""A folder of temporary files that several processes write in at once, where only a dead writer's files go.

The device's data folder is shared: `loupe-edge run`, a camera loop capturing, `enqueue` and `status` may all
open it at the same time, and each opening sweeps away what a killed writer left half-written. A file whose
writer is still at work must survive that sweep (issue 17: a `status` beside a capturing camera deleted the
frame it was writing).

The rule: a process holds an exclusive `fcntl.flock` on `<pid>.lock` here for its whole life, taken before its
first temporary file, and names its files `<pid>.<…>`. A sweeper removes a writer's files only after taking
that writer's lock itself, without waiting. The kernel drops a lock when its holder dies, SIGKILL included, so
a lock the sweeper can take means the writer is gone; a pid alone would prove nothing, since pids are reused.
The sweeper deletes the lock file while it still holds it; a new process that reused the pid and opened that
file meanwhile sees, once it gets the lock, that the file is no longer the one on disk, and takes a fresh one.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

LOCK_SUFFIX = ".lock"

# The lock each process holds, per folder: one open file for the process's life (a second open of the same
# file, even by the same process, would conflict with the first under flock). Keyed by pid as well, so a
# forked child takes its own lock instead of sharing its parent's.
_held: dict[tuple[Path, int], int] = {}
_held_guard = threading.Lock()


def _is_same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


class TempFolder:
    """Temporary files of this process in `folder`, and the sweep of those whose writer is gone."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hold()

    def hold(self) -> None:
        """Take this process's writer lock here (once per process; after that, only a check that it is still
        the lock file on disk)."""
        pid = os.getpid()
        key = (self.folder.resolve(), pid)
        path = self.folder / f"{pid}{LOCK_SUFFIX}"
        with _held_guard:
            held = _held.get(key)
            if held is not None:
                if _is_same_file(held, path):
                    return
                os.close(held)  # the folder was emptied or made anew under us: lock the file that is there now
            self.folder.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)  # waits only while a sweeper holds a dead namesake's lock
                if _is_same_file(fd, path):
                    break
                os.close(fd)  # that sweeper deleted the file we opened: take a fresh one
            _held[key] = fd

    def path(self, name: str) -> Path:
        """A temporary path for `name`, marked as this process's and this thread's."""
        self.hold()  # in a forked child, the first call takes the child's own lock
        return self.folder / f"{os.getpid()}.{threading.get_ident()}.{name}"

    def sweep(self) -> int:
        """Remove the files (and lock files) of writers that are gone; return how many files went."""
        own = str(os.getpid())
        removed = 0
        for owner in sorted({entry.name.split(".", 1)[0] for entry in self.folder.iterdir()}):
            if owner == own:
                continue
            if owner.isdigit():
                removed += self._sweep_writer(owner)
                continue
            # Not named by this rule (an older client's leftovers): no writer can be asked, nobody owns them.
            for entry in self.folder.glob(f"{owner}.*"):
                entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def _sweep_writer(self, pid: str) -> int:
        lock_path = self.folder / f"{pid}{LOCK_SUFFIX}"
        # O_CREAT: a writer whose lock file is already gone is gone too; taking (and then deleting) a lock of
        # our own under its name keeps a new process with the same pid from writing while we sweep.
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # the writer is alive: its files stay
            if not _is_same_file(fd, lock_path):
                return 0  # another sweeper got here first
            removed = 0
            for entry in self.folder.glob(f"{pid}.*"):
                if entry != lock_path:
                    entry.unlink(missing_ok=True)
                    removed += 1
            lock_path.unlink(missing_ok=True)  # while still held: see the module docstring
            return removed
        finally:
            os.close(fd)
