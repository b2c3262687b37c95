"""A durable outbox of device events in SQLite: enqueue is one fsynced transaction, idempotent by event id.

An event is `pending` until the server answers `created` or `duplicate` (then `sent`) or refuses it for good
(`rejected`, with the server's error kept). Nothing is ever deleted while pending, so a kill at any point
loses nothing: at worst a batch the server already stored is sent again, and the server answers `duplicate`.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loupe_wire import same_payload

PENDING, SENT, REJECTED = "pending", "sent", "rejected"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- enqueue order: events go out oldest first
    id TEXT NOT NULL UNIQUE,                 -- the device-unique event id the server deduplicates on
    payload TEXT NOT NULL,                   -- the event as sent (compact JSON, exactly these bytes)
    asset TEXT,                              -- sha256 of the media it needs, if any
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS event_due ON event (next_attempt_at, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS event_pending_asset ON event (asset) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class EventIdConflict(ValueError):
    """The id is already queued with a different payload: ids must be unique per device."""


@dataclass(frozen=True)
class QueuedEvent:
    id: str
    payload: str
    asset: str | None
    attempts: int


def encode(event: dict[str, Any]) -> str:
    """The canonical bytes stored and sent for an event (compact, key order kept)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Take turns with other processes opening the same outbox (flock on `<file>.open-lock`).

    Why: a fresh file is switched to WAL by its first opener, which needs an exclusive lock that SQLite does not
    wait for (no busy timeout): two processes opening a new data folder at once (`run` and a camera loop) made
    one fail with "database is locked". Once the file is in WAL mode nothing here conflicts with the writers."""
    fd = os.open(path.with_name(path.name + ".open-lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class Outbox:
    """The device's queue of events. Safe to share between threads of one process, and between processes:
    any number may open the same file at once (`_opening`); in WAL mode readers never wait, and writers take
    turns with BEGIN IMMEDIATE and a 30 s busy timeout (each transaction is a few rows, so the wait is short)."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, one transaction per operation.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before enqueue returns
        with _opening(self.path):
            if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._db.execute("PRAGMA journal_mode=WAL")  # persistent: only the file's first opener does it
            self._db.executescript(_SCHEMA)  # idempotent (IF NOT EXISTS)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- writes ---------------------------------------------------------------------------------------

    def enqueue(self, event: dict[str, Any]) -> bool:
        """Queue an event durably; True if it is new, False if this id is already queued with this payload.

        Raises EventIdConflict if the id is queued with another payload (the server would refuse it too)."""
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("an event needs a non-empty string id")
        payload = encode(event)
        asset = event.get("asset")
        with self._transaction() as db:
            inserted = db.execute(
                "INSERT INTO event (id, payload, asset, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (event_id, payload, asset if isinstance(asset, str) else None, self.clock()),
            ).rowcount
            if inserted:
                return True
            (existing,) = db.execute("SELECT payload FROM event WHERE id = ?", (event_id,)).fetchone()
        # The server's test of a re-send (loupe_wire.payload_hash): another key order or `Z` for `+00:00` is the
        # same event, so the device never refuses what the server would take as a duplicate.
        if existing != payload and not same_payload(json.loads(existing), event):
            raise EventIdConflict(f"event {event_id!r} is already queued with a different payload")
        return False

    def mark_sent(self, ids: Iterable[str]) -> None:
        now = self.clock()
        with self._transaction() as db:
            db.executemany("UPDATE event SET status = 'sent', finished_at = ?, last_error = NULL "
                           "WHERE id = ? AND status = 'pending'", [(now, i) for i in ids])

    def mark_rejected(self, rejected: dict[str, str]) -> None:
        """Give up on these events for good, keeping why (`{event id: error}`)."""
        now = self.clock()
        with self._transaction() as db:
            db.executemany("UPDATE event SET status = 'rejected', finished_at = ?, last_error = ?, "
                           "attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
                           [(now, error, i) for i, error in rejected.items()])

    def record_outcome(self, *, sent: Iterable[str], rejected: dict[str, str], retry: dict[str, str],
                       retry_at: float) -> None:
        """Store a batch's per-event results in one transaction (so a kill never splits a batch's outcome)."""
        now = self.clock()
        with self._transaction() as db:
            db.executemany("UPDATE event SET status = 'sent', finished_at = ?, last_error = NULL "
                           "WHERE id = ? AND status = 'pending'", [(now, i) for i in sent])
            db.executemany("UPDATE event SET status = 'rejected', finished_at = ?, last_error = ?, "
                           "attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
                           [(now, error, i) for i, error in rejected.items()])
            db.executemany("UPDATE event SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                           "WHERE id = ? AND status = 'pending'", [(retry_at, e, i) for i, e in retry.items()])

    def defer(self, ids: Iterable[str], *, until: float, error: str) -> None:
        """A transient failure: try these again at `until`, counting the attempt."""
        self.record_outcome(sent=(), rejected={}, retry=dict.fromkeys(ids, error), retry_at=until)

    def reject_asset(self, sha256: str, error: str) -> list[str]:
        """Reject every pending event that needs this media (it can never be delivered); return their ids."""
        now = self.clock()
        with self._transaction() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM event WHERE asset = ? AND status = 'pending'", (sha256,))]
            db.execute("UPDATE event SET status = 'rejected', finished_at = ?, last_error = ?, attempts = attempts + 1 "
                       "WHERE asset = ? AND status = 'pending'", (now, error, sha256))
        return ids

    def forget_finished(self, *, before: float) -> int:
        """Delete sent and rejected events finished before `before` (keeps the file small); return how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM event WHERE status != 'pending' AND finished_at < ?", (before,)).rowcount

    def bump(self, name: str, by: int = 1) -> None:
        """Add to a named counter (e.g. media refused for lack of disk) that survives restarts."""
        with self._transaction() as db:
            db.execute("INSERT INTO counter (name, value) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", (name, by))

    # --- reads ----------------------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def due(self, limit: int, *, now: float | None = None) -> list[QueuedEvent]:
        """Pending events whose next attempt is due, oldest first."""
        at = self.clock() if now is None else now
        rows = self._query("SELECT id, payload, asset, attempts FROM event WHERE status = 'pending' "
                           "AND next_attempt_at <= ? ORDER BY seq LIMIT ?", (at, limit))
        return [QueuedEvent(*row) for row in rows]

    def next_due_at(self) -> float | None:
        """When the earliest pending event may be tried, or None if nothing is pending."""
        row = self._query("SELECT min(next_attempt_at) FROM event WHERE status = 'pending'")
        return None if row[0][0] is None else float(row[0][0])

    def depth(self) -> int:
        """Events still to deliver."""
        return int(self._query("SELECT count(*) FROM event WHERE status = 'pending'")[0][0])

    def oldest_pending_age(self) -> float | None:
        """Seconds since the oldest event still to deliver was queued, or None if nothing is pending."""
        row = self._query("SELECT min(created_at) FROM event WHERE status = 'pending'")
        return None if row[0][0] is None else max(0.0, self.clock() - float(row[0][0]))

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((PENDING, SENT, REJECTED), 0)
        counts.update({s: int(n) for s, n in self._query("SELECT status, count(*) FROM event GROUP BY status")})
        return counts

    def pending_assets(self) -> set[str]:
        """Media that some pending event still needs (the spool must keep these)."""
        return {r[0] for r in self._query(
            "SELECT DISTINCT asset FROM event WHERE status = 'pending' AND asset IS NOT NULL")}

    def get(self, event_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT id, status, attempts, next_attempt_at, last_error, payload FROM event "
                           "WHERE id = ?", (event_id,))
        if not rows:
            return None
        keys = ("id", "status", "attempts", "next_attempt_at", "last_error", "payload")
        return dict(zip(keys, rows[0], strict=True))

    def counter(self, name: str) -> int:
        rows = self._query("SELECT value FROM counter WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0
