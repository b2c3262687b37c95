"""The uploader's retry policy end to end: the link's failures are not charged to events, a batch's own failure
holds back only that batch, and after an outage the backlog goes at once (edge/backoff.py, docs/edge.md).

The last two tests talk to a real HTTP server on loopback (a thread serving the fake API) that drops
connections; time is the fake clock's, so an outage of minutes runs in a second."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from edge.backoff import PROBE_CAP, Backoff
from edge.capture import capture
from edge.client import Uploader
from edge.device import DeviceState
from edge.heartbeat import send_heartbeat
from tests.edge.fakes import FakeClock, FakeServer, event


@pytest.fixture
def device(tmp_path):
    state = DeviceState.open(tmp_path / "device", budget_bytes=10**8)
    yield state
    state.close()


def frame(i: int) -> bytes:
    return b"\xff\xd8\xff" + f"frame {i}".encode() * 10


def uploader(device: DeviceState, http: httpx.Client, clock: FakeClock, **kwargs) -> Uploader:
    return Uploader(http=http, outbox=device.outbox, spool=device.spool, clock=clock, sleep=clock.sleep,
                    backoff=Backoff(base=1.0, cap=300.0, random=lambda: 1.0), **kwargs)


def posted_ids(request: httpx.Request) -> list[str]:
    return [e["id"] for e in json.loads(request.read())["events"]]


def stored_before_each_wait(server: FakeServer, clock: FakeClock, seen: list[set[str]]):
    """A sleep that notes which events the server had stored each time the uploader waited."""

    def sleep(seconds: float) -> None:
        seen.append(set(server.events))
        clock.sleep(seconds)

    return sleep


def test_a_5xx_on_one_batch_holds_back_that_batch_only(device):
    server, clock = FakeServer(), FakeClock()
    failing = iter(range(2))  # the batch holding ev-0 fails twice, then goes through
    server.faults.append(lambda r: httpx.Response(500) if r.url.path == "/api/v1/events"
                         and "ev-0" in posted_ids(r) and next(failing, None) is not None else None)
    for i in range(6):
        device.outbox.enqueue(event(i))
    up = uploader(device, server.client(), clock, batch_size=2)
    up.sleep = stored_before_each_wait(server, clock, seen := [])
    report = up.drain()
    assert report.sent == 6 and report.failures == 2 and report.probes == 0  # the link was never in doubt
    assert clock.sleeps == [1.0, 2.0]  # that batch's own schedule...
    assert seen[0] == {"ev-2", "ev-3", "ev-4", "ev-5"}  # ...while the others went without waiting
    assert set(server.events) == {f"ev-{i}" for i in range(6)}
    assert device.outbox.get("ev-0")["attempts"] == 2 and device.outbox.get("ev-2")["attempts"] == 0


def test_a_media_upload_that_keeps_failing_defers_its_events_and_the_rest_goes_on(device):
    server, clock = FakeServer(), FakeClock()
    capture(outbox=device.outbox, spool=device.spool, event=event(1), media=frame(1))
    capture(outbox=device.outbox, spool=device.spool, event=event(2), media=frame(2))
    capture(outbox=device.outbox, spool=device.spool, event=event(3))
    bad = device.outbox.due(1)[0].asset
    failing = iter(range(3))
    server.faults.append(lambda r: httpx.Response(500) if r.method == "PUT" and r.url.path.endswith(bad)
                         and next(failing, None) is not None else None)
    up = uploader(device, server.client(), clock)
    up.sleep = stored_before_each_wait(server, clock, seen := [])
    report = up.drain()
    assert report.sent == 3 and report.probes == 0 and clock.sleeps == [1.0, 2.0, 4.0]
    assert seen[0] == {"ev-2", "ev-3"}  # not held back by the media that failed
    assert device.outbox.get("ev-1")["attempts"] == 3 and device.outbox.get("ev-2")["attempts"] == 0


def test_a_heartbeat_that_gets_through_puts_the_link_up_at_once(device):
    server, clock = FakeServer(), FakeClock()
    http = server.client()
    up = uploader(device, http, clock)
    for _ in range(8):
        up.link.failed()  # a long outage: the next probe is 15 s away
    assert up.link.ready_at() - clock() == PROBE_CAP
    send_heartbeat(http, {"software_version": "test"})
    assert up.link.up and up.link.failures == 0 and up.link.ready_at() <= clock()


def test_retry_after_on_503_is_honoured_and_no_probe_comes_sooner(device):
    server, clock = FakeServer(), FakeClock()
    answers = iter([httpx.Response(503, headers={"Retry-After": "45"})])
    server.faults.append(lambda r: next(answers, None) if r.url.path == "/api/v1/events" else None)
    device.outbox.enqueue(event(1))
    report = uploader(device, server.client(), clock).drain()
    assert clock.sleeps == [45.0] and report.probes == 0 and report.sent == 1


def test_a_4xx_refusing_the_batch_rejects_it_and_is_not_a_link_failure(device):
    server, clock = FakeServer(), FakeClock()
    server.faults.append(lambda r: httpx.Response(422, json={"error": {"code": "invalid", "message": "no"}})
                         if r.url.path == "/api/v1/events" and "ev-1" in posted_ids(r) else None)
    device.outbox.enqueue(event(1))
    device.outbox.enqueue(event(2))
    up = uploader(device, server.client(), clock, batch_size=1)
    report = up.drain()
    assert report.rejected == 1 and report.sent == 1 and report.failures == 0 and clock.sleeps == []
    assert json.loads(device.outbox.get("ev-1")["last_error"])["code"] == "invalid" and up.link.up


# --- against a real HTTP server on loopback ------------------------------------------------------------


class DroppingServer(ThreadingHTTPServer):
    """Serves the fake API over real sockets; `drop(request_number)` says when to cut a connection unanswered."""

    daemon_threads = True

    def __init__(self, fake: FakeServer, drop) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake, self.drop = fake, drop
        self.requests = self.dropped = 0
        self.count_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DroppingServer

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.count_lock:
            self.server.requests += 1
            cut = self.server.drop(self.server.requests)
            self.server.dropped += cut
        if cut:  # the link fails: the client hears nothing (httpx: RemoteProtocolError)
            self.close_connection = True
            return
        answer = self.server.fake.handler(httpx.Request(self.command, f"http://loupe.test{self.path}",
                                                        headers=dict(self.headers), content=body))
        self.send_response(answer.status_code)
        for name in ("content-type", "content-length"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        if "content-length" not in answer.headers:
            self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.content)

    do_GET = do_HEAD = do_PUT = do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
        pass


@pytest.fixture
def serve() -> Iterator:
    servers = []

    def start(fake: FakeServer, drop) -> tuple[DroppingServer, httpx.Client]:
        server = DroppingServer(fake, drop)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=10)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_after_an_outage_the_backlog_is_sent_within_one_probe_interval(device, serve):
    clock = FakeClock()
    outage_ends = clock() + 100.0  # the link is down for the first 100 s (fake time), then back for good
    fake = FakeServer()
    _, http = serve(fake, lambda n: clock() < outage_ends)
    for i in range(120):
        capture(outbox=device.outbox, spool=device.spool, event=event(i), media=frame(i))
    with http:
        report = uploader(device, http, clock, batch_size=20).drain()
    assert len(fake.events) == 120 and len(fake.media) == 120 and device.outbox.depth() == 0
    # Probes at 1, 3, 7, 15, 30, 45, … s: the first after the outage gets its answer, and from then on the
    # whole backlog goes without a single wait (the drain ends at the moment that probe was sent).
    assert outage_ends <= clock() <= outage_ends + PROBE_CAP
    assert max(clock.sleeps) == PROBE_CAP and report.sent == 120
    assert device.outbox.get("ev-0")["attempts"] == 0  # the outage was charged to no event


def test_connections_cut_now_and_then_cost_about_a_second_each_not_a_growing_backoff(device, serve):
    clock = FakeClock()
    fake = FakeServer()
    server, http = serve(fake, lambda n: n % 16 == 0)  # about 6 % of requests cut unanswered
    for i in range(200):
        capture(outbox=device.outbox, spool=device.spool, event=event(i), media=frame(i))
    with http:
        report = uploader(device, http, clock, batch_size=25).drain()
    assert len(fake.events) == 200 and device.outbox.depth() == 0 and server.dropped >= 10
    assert report.sent == 200 and report.failures >= 1
    # Each cut: the link is down until a probe one second later (two if a probe is cut as well); a real answer
    # then resets the count, so the waits never grow towards the cap.
    assert max(clock.sleeps) <= 2.0
    assert sum(clock.sleeps) <= 2.0 * server.dropped
