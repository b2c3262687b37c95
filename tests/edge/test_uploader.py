"""The uploader against a fake server: per-event results, media first, backoff on a schedule, stop on 401."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from edge.backoff import Backoff
from edge.capture import capture
from edge.client import AuthError, Uploader
from edge.device import DeviceState
from tests.edge.fakes import FakeClock, FakeServer, event


@pytest.fixture
def device(tmp_path):
    state = DeviceState.open(tmp_path / "device", budget_bytes=10**6)
    yield state
    state.close()


def frame(i: int) -> bytes:
    return b"\xff\xd8\xff" + f"frame {i}".encode() * 10


def uploader(device: DeviceState, server: FakeServer, clock: FakeClock, **kwargs) -> Uploader:
    return Uploader(http=server.client(), outbox=device.outbox, spool=device.spool, clock=clock,
                    sleep=clock.sleep, backoff=Backoff(base=1.0, cap=60.0, random=lambda: 1.0), **kwargs)


def test_events_and_their_media_are_delivered_once_in_batches(device):
    server, clock = FakeServer(), FakeClock()
    for i in range(12):
        capture(outbox=device.outbox, spool=device.spool, event=event(i), media=frame(i % 4))
    report = uploader(device, server, clock, batch_size=5).drain()
    assert report.sent == 12 and report.batches == 3 and report.media_uploaded == 4
    assert len(server.events) == 12 and len(server.media) == 4 and device.outbox.depth() == 0
    assert sum(1 for method, _ in server.calls if method == "PUT") == 4  # once per media


def test_with_head_min_bytes_only_large_media_is_asked_for_before_it_is_uploaded(device):
    server, clock = FakeServer(), FakeClock()
    big = b"\xff\xd8\xff" + bytes(100_000)
    server.media[hashlib.sha256(big).hexdigest()] = big  # the server has it already
    capture(outbox=device.outbox, spool=device.spool, event=event(1), media=big)
    capture(outbox=device.outbox, spool=device.spool, event=event(2), media=frame(2))
    uploader(device, server, clock, head_min_bytes=65536).drain()
    assert [m for m, _ in server.calls] == ["HEAD", "PUT", "POST"]  # the big one: HEAD only; the small: PUT


def test_transient_failures_back_off_exponentially_and_lose_nothing(device):
    server, clock = FakeServer(), FakeClock()
    script = iter([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(503)])

    def flaky(request: httpx.Request) -> httpx.Response | None:
        step = next(script, None) if request.url.path == "/api/v1/events" else None
        if isinstance(step, Exception):
            raise step
        return step

    server.faults.append(flaky)
    for i in range(3):
        device.outbox.enqueue(event(i))
    report = uploader(device, server, clock).drain()
    # Each failure puts the link down; its probe comes 1, 2, 4 s later (d = base·2^(n-1), waited in full
    # because the injected jitter draws 1.0: a probe's answer does not reset the count, only a real answer).
    assert clock.sleeps == [1.0, 2.0, 4.0] and report.probes == 3
    assert report.failures == 3 and report.sent == 3 and device.outbox.depth() == 0
    assert device.outbox.get("ev-0")["attempts"] == 0  # the link's failures are not the events' fault


def test_retry_after_is_honoured(device):
    server, clock = FakeServer(), FakeClock()
    answers = iter([httpx.Response(429, headers={"Retry-After": "17"})])
    server.faults.append(lambda r: next(answers, None) if r.url.path == "/api/v1/events" else None)
    device.outbox.enqueue(event(1))
    uploader(device, server, clock).drain()
    assert clock.sleeps == [17.0] and device.outbox.counts()["sent"] == 1


@pytest.mark.parametrize(("header", "waited"), [("0", 1.0), ("86400", 60.0)])
def test_retry_after_is_floored_by_the_backoff_and_capped(device, header, waited):
    """`Retry-After: 0` would spin against an overloaded server; a day would park the device."""
    server, clock = FakeServer(), FakeClock()
    answers = iter([httpx.Response(503, headers={"Retry-After": header})])
    server.faults.append(lambda r: next(answers, None) if r.url.path == "/api/v1/events" else None)
    device.outbox.enqueue(event(1))
    uploader(device, server, clock).drain()
    assert clock.sleeps == [waited] and device.outbox.counts()["sent"] == 1


def test_asset_missing_uploads_the_media_again_and_retries(device):
    server, clock = FakeServer(), FakeClock()
    capture(outbox=device.outbox, spool=device.spool, event=event(1), media=frame(1))
    sha = device.outbox.due(1)[0].asset
    server.forget_media_once.add(sha)  # the server loses it between the upload and the batch
    report = uploader(device, server, clock).drain()
    assert report.sent == 1 and sha in server.media and device.outbox.depth() == 0
    assert [m for m, _ in server.calls].count("PUT") == 2


def test_other_rejections_keep_the_servers_error_and_the_rest_goes_on(device):
    server, clock = FakeServer(), FakeClock()
    server.events["ev-2"] = event(2, reason="ood")  # the server already has ev-2 with different content
    device.outbox.enqueue(event(1))
    device.outbox.enqueue(event(2))
    device.outbox.enqueue(event(3, detections="bad"))
    device.outbox.enqueue(event(4))
    report = uploader(device, server, clock).drain()
    assert report.sent == 2 and report.rejected == 2
    assert json.loads(device.outbox.get("ev-2")["last_error"])["code"] == "id_conflict"
    assert json.loads(device.outbox.get("ev-3")["last_error"])["code"] == "invalid_box"
    assert device.outbox.get("ev-4")["status"] == "sent"


def test_media_that_does_not_match_its_hash_is_quarantined_and_its_events_rejected(device):
    server, clock = FakeServer(), FakeClock()
    capture(outbox=device.outbox, spool=device.spool, event=event(1), media=frame(1))
    capture(outbox=device.outbox, spool=device.spool, event=event(2), media=frame(1))
    capture(outbox=device.outbox, spool=device.spool, event=event(3), media=frame(3))
    sha = device.outbox.due(1)[0].asset
    device.spool.path(sha).write_bytes(b"\xff\xd8\xff torn by a power cut")
    report = uploader(device, server, clock).drain()
    assert report.rejected == 2 and report.sent == 1 and sha not in server.media
    assert json.loads(device.outbox.get("ev-1")["last_error"])["code"] == "hash_mismatch"
    assert not device.spool.has(sha) and (device.spool.quarantine_dir / sha).exists()


def test_a_409_from_the_server_quarantines_the_media(device):
    server, clock = FakeServer(), FakeClock()
    capture(outbox=device.outbox, spool=device.spool, event=event(1), media=frame(1))
    server.faults.append(lambda r: httpx.Response(409, json={"error": {"code": "hash_mismatch", "message": "x"}})
                         if r.method == "PUT" else None)
    uploader(device, server, clock).drain()
    assert device.outbox.get("ev-1")["status"] == "rejected" and device.spool.used_bytes == 0


def test_a_revoked_token_stops_the_uploader_and_keeps_every_event(device):
    server, clock = FakeServer(), FakeClock()
    server.faults.append(lambda r: httpx.Response(
        401, json={"error": {"code": "token_revoked", "message": "This device token has been revoked."}}))
    for i in range(3):
        capture(outbox=device.outbox, spool=device.spool, event=event(i), media=frame(i))
    with pytest.raises(AuthError, match="token_revoked"):
        uploader(device, server, clock).drain()
    assert device.outbox.counts() == {"pending": 3, "sent": 0, "rejected": 0}
    assert device.outbox.get("ev-0")["attempts"] == 0 and clock.sleeps == []


def test_a_batch_too_large_for_the_server_is_halved(device):
    server, clock = FakeServer(), FakeClock()
    server.faults.append(lambda r: httpx.Response(413, json={"error": {"code": "batch_too_large", "message": ""}})
                         if r.url.path == "/api/v1/events" and len(json.loads(r.read())["events"]) > 2 else None)
    for i in range(7):
        device.outbox.enqueue(event(i))
    up = uploader(device, server, clock, batch_size=8)
    assert up.drain().sent == 7 and up.batch_size <= 2 and len(server.events) == 7


def test_a_head_refused_without_a_body_still_says_why(device):
    server, clock = FakeServer(), FakeClock()
    server.faults.append(lambda r: httpx.Response(401) if r.method == "HEAD" else httpx.Response(
        401, json={"error": {"code": "token_revoked", "message": "This device token has been revoked."}}))
    capture(outbox=device.outbox, spool=device.spool, event=event(1), media=frame(1))
    with pytest.raises(AuthError, match="token_revoked.*revoked"):
        uploader(device, server, clock, head_min_bytes=0).drain()
    assert device.outbox.depth() == 1
