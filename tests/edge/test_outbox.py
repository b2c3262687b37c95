"""The outbox: durable, idempotent by event id, ordered, and never forgets a pending event."""

from __future__ import annotations

import sqlite3

import pytest

from edge.outbox import EventIdConflict, Outbox
from tests.edge.fakes import event


def test_enqueue_is_idempotent_by_event_id(tmp_path):
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        assert outbox.enqueue(event(1)) is True
        assert outbox.enqueue(event(1)) is False
        assert outbox.depth() == 1


def test_the_same_id_with_another_payload_is_refused_and_the_first_stands(tmp_path):
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        outbox.enqueue(event(1, reason="low_confidence"))
        with pytest.raises(EventIdConflict):
            outbox.enqueue(event(1, reason="ood"))
        assert '"low_confidence"' in outbox.due(10)[0].payload


def test_queued_events_survive_reopening_with_their_state(tmp_path):
    path = tmp_path / "o.sqlite3"
    with Outbox(path) as outbox:
        for i in range(5):
            outbox.enqueue(event(i))
        outbox.mark_sent(["ev-0"])
        outbox.mark_rejected({"ev-1": '{"code": "invalid_box"}'})
        outbox.defer(["ev-2"], until=outbox.clock() + 60, error="HTTP 503")
    with Outbox(path) as reopened:
        assert reopened.counts() == {"pending": 3, "sent": 1, "rejected": 1}
        assert [e.id for e in reopened.due(10)] == ["ev-3", "ev-4"]  # ev-2 waits for its backoff
        assert reopened.get("ev-2")["attempts"] == 1 and reopened.get("ev-2")["last_error"] == "HTTP 503"
        assert reopened.get("ev-1")["last_error"] == '{"code": "invalid_box"}'


def test_the_file_is_in_wal_mode_and_every_commit_is_synchronous(tmp_path):
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_an_enqueue_is_committed_before_it_returns(tmp_path):
    """Another connection (another process after a kill) sees the event at once."""
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    outbox.enqueue(event(1, asset="a" * 64))
    other = sqlite3.connect(path)
    assert other.execute("SELECT id, asset, status FROM event").fetchall() == [("ev-1", "a" * 64, "pending")]
    other.close()
    outbox.close()


def test_pending_assets_are_those_a_pending_event_still_needs(tmp_path):
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        outbox.enqueue(event(1, asset="a" * 64))
        outbox.enqueue(event(2, asset="b" * 64))
        outbox.enqueue(event(3, asset="b" * 64))
        outbox.mark_sent(["ev-1", "ev-2"])
        assert outbox.pending_assets() == {"b" * 64}
        assert outbox.reject_asset("b" * 64, "corrupt") == ["ev-3"]
        assert outbox.pending_assets() == set()


def test_the_same_event_serialised_another_way_is_a_replay_not_a_conflict(tmp_path):
    # The server would answer `duplicate` for it (loupe_wire.payload_hash): the device must not refuse it.
    first = event(1, reason="low_confidence")
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        assert outbox.enqueue(first) is True
        reordered = {**dict(reversed(list(first.items()))), "captured_at": "2026-12-01T10:00:00+00:00"}
        assert outbox.enqueue(reordered) is False
        assert outbox.depth() == 1 and '"2026-12-01T10:00:00.000Z"' in outbox.due(10)[0].payload  # the first stands
