"""The media spool: content-addressed, atomic, within its budget; media a pending event needs is never pruned."""

from __future__ import annotations

import hashlib
import os

import pytest

from edge.capture import MEDIA_REFUSED, capture
from edge.outbox import Outbox
from edge.spool import HashMismatch, Spool, SpoolFull
from tests.edge.fakes import event


def blob(i: int, size: int = 100) -> bytes:
    return (b"\xff\xd8\xff" + bytes([i]) * size)[:size]


def age(spool: Spool, sha: str, t: float) -> None:
    os.utime(spool.path(sha), (t, t))


def test_media_is_stored_once_under_its_sha256(tmp_path):
    spool = Spool(tmp_path, budget_bytes=1000, needed=set)
    sha = spool.put(blob(1))
    assert sha == hashlib.sha256(blob(1)).hexdigest()
    assert spool.put(blob(1)) == sha and spool.used_bytes == 100
    assert spool.read(sha) == blob(1)


def test_the_oldest_media_no_pending_event_needs_is_pruned_first(tmp_path):
    needed: set[str] = set()
    spool = Spool(tmp_path, budget_bytes=300, needed=lambda: needed)
    shas = [spool.put(blob(i)) for i in range(3)]
    for t, sha in enumerate(shas):
        age(spool, sha, 1000 + t)
    needed.add(shas[0])  # the oldest is still needed: the next oldest goes instead
    new = spool.put(blob(9))
    assert [spool.has(s) for s in shas] == [True, False, True] and spool.has(new)
    assert spool.used_bytes == 300 and spool.pruned == 1


def test_when_only_needed_media_remains_new_media_is_refused_and_counted(tmp_path):
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        spool = Spool(tmp_path / "spool", budget_bytes=200, needed=outbox.pending_assets)
        capture(outbox=outbox, spool=spool, event=event(1), media=blob(1))
        capture(outbox=outbox, spool=spool, event=event(2), media=blob(2))
        with pytest.raises(SpoolFull, match="pending events still need"):
            capture(outbox=outbox, spool=spool, event=event(3), media=blob(3))
        assert outbox.depth() == 2 and outbox.counter(MEDIA_REFUSED) == 1 and spool.refused == 1
        outbox.mark_sent(["ev-1"])  # delivered: its media may now go
        capture(outbox=outbox, spool=spool, event=event(3), media=blob(3))
        assert outbox.depth() == 2 and spool.used_bytes == 200


def test_an_interrupted_write_leaves_nothing_under_a_hash_name(tmp_path):
    spool = Spool(tmp_path, budget_bytes=1000, needed=set)
    (spool.tmp / "4000000.1.deadbeef").write_bytes(b"half a fra")  # a kill between write and rename...
    (spool.tmp / "4000000.lock").touch()  # ...by a writer that is gone (nobody holds its lock)
    (spool.tmp / "deadbeef.123.1").write_bytes(b"half a fra")  # an older client's leftover, named otherwise
    reopened = Spool(tmp_path, budget_bytes=1000, needed=set)
    assert [p.name for p in reopened.tmp.iterdir()] == [f"{os.getpid()}.lock"]  # only our own lock
    assert reopened.used_bytes == 0


def test_corrupt_media_is_detected_and_quarantined(tmp_path):
    spool = Spool(tmp_path, budget_bytes=1000, needed=set)
    sha = spool.put(blob(1))
    spool.path(sha).write_bytes(b"bit rot")
    with pytest.raises(HashMismatch):
        spool.read(sha)
    spool.quarantine(sha)
    assert not spool.has(sha) and (spool.quarantine_dir / sha).exists()
