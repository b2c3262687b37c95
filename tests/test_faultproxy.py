"""The fault proxy (tests/faultproxy.py) does what its schedule says, against a tiny local HTTP/1.1 server that
records every whole request it received: pass and delay relay, drop never lets a whole request through, cut
lets the server answer and withholds the answer, an outage closes everything; it stays on loopback."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.faultproxy import ProxyProcess, ProxyThread, Schedule, require_loopback


class Recorder(socketserver.StreamRequestHandler):
    """A tiny HTTP/1.1 keep-alive server that records a request only once its head and whole body arrived (a
    strict reader: http.server would take a head cut short by EOF as complete)."""

    received: list[tuple[str, str, bytes]]

    def handle(self) -> None:
        while True:
            lines = []
            while (line := self.rfile.readline()) != b"\r\n":
                if not line.endswith(b"\r\n"):
                    return  # the peer closed mid-head (or between requests)
                lines.append(line.decode("latin-1"))
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            length = int(headers.get("content-length", 0))
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the peer closed mid-body
            self.received.append((method, path, body))
            self.wfile.write(self.answer(method, path, body))

    @staticmethod
    def answer(method: str, path: str, body: bytes) -> bytes:
        if path == "/chunked":
            parts = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (b"hello ", b"chunked ", b"world"))
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + parts + b"0\r\n\r\n"
        status = b"503 Busy" if path == "/busy" else b"200 OK"
        content = b"echo:" + body
        head = b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n" % (status, len(content))
        return head if method == "HEAD" else head + content


@pytest.fixture
def upstream() -> Iterator[tuple[socketserver.ThreadingTCPServer, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (Recorder,), {"received": received})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, received
    server.shutdown()
    server.server_close()


def proxy_to(server: socketserver.ThreadingTCPServer, **schedule: float) -> ProxyThread:
    return ProxyThread(upstream=("127.0.0.1", server.server_address[1]), schedule=Schedule(**schedule))


def test_pass_relays_every_request_on_one_keep_alive_connection(upstream):
    server, received = upstream
    with proxy_to(server) as proxy, httpx.Client(base_url=proxy.url) as http:
        answers = [http.post("/e", content=b"x" * i) for i in range(20)]
        head = http.head("/h")
        chunked = http.get("/chunked")
    assert [a.content for a in answers] == [b"echo:" + b"x" * i for i in range(20)]
    assert head.status_code == 200 and head.content == b""
    assert chunked.content == b"hello chunked world"
    assert len(received) == 22
    assert proxy.stats()["actions"] == {"pass": 22, "delay": 0, "drop": 0, "cut": 0, "refused": 0}


def test_cut_lets_the_server_answer_but_the_client_never_hears_it(upstream):
    server, received = upstream
    with (proxy_to(server, cut=1.0) as proxy, httpx.Client(base_url=proxy.url) as http,
          pytest.raises(httpx.TransportError)):
        http.put("/media", content=b"frame-bytes")
    assert received == [("PUT", "/media", b"frame-bytes")]  # the whole request reached the server
    assert proxy.stats()["actions"]["cut"] == 1 and proxy.stats()["statuses"] == {"200": 1}


def test_drop_never_lets_a_whole_request_reach_the_server(upstream):
    server, received = upstream
    with proxy_to(server, drop=1.0) as proxy, httpx.Client(base_url=proxy.url) as http:
        for body in (b"", b"a" * 10_000):
            with pytest.raises(httpx.TransportError):
                http.post("/events", content=body)
    assert received == []
    assert proxy.stats()["actions"]["drop"] == 2 and proxy.stats()["answered"] == 0


def test_delay_holds_the_answer_back(upstream):
    server, _ = upstream
    with proxy_to(server, delay=1.0, delay_ms=300) as proxy, httpx.Client(base_url=proxy.url) as http:
        started = time.perf_counter()
        answer = http.get("/slow")
        elapsed = time.perf_counter() - started
    assert answer.content == b"echo:" and elapsed >= 0.3
    assert proxy.stats()["actions"]["delay"] == 1


def test_an_outage_closes_every_connection_until_it_ends(upstream):
    server, received = upstream
    with proxy_to(server) as proxy, httpx.Client(base_url=proxy.url) as http:
        assert http.get("/before").status_code == 200  # a keep-alive connection is now open
        proxy.start_outage(3600)
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                http.get("/during")
        proxy.start_outage(0)
        assert http.get("/after").status_code == 200
    assert [path for _, path, _ in received] == ["/before", "/after"]
    assert proxy.stats()["actions"]["refused"] >= 2


def test_server_errors_are_counted(upstream):
    server, _ = upstream
    with proxy_to(server) as proxy, httpx.Client(base_url=proxy.url) as http:
        http.get("/busy")
        http.get("/fine")
    assert proxy.stats()["statuses"] == {"200": 1, "503": 1} and proxy.stats()["server_errors"] == 1


def test_the_schedule_is_seeded_and_keeps_its_fractions():
    first = [Schedule(seed=7, cut=0.1, drop=0.1, delay=0.2).next_action() for _ in range(1)]
    a, b = Schedule(seed=7, cut=0.1, drop=0.1, delay=0.2), Schedule(seed=7, cut=0.1, drop=0.1, delay=0.2)
    drawn = [a.next_action() for _ in range(10_000)]
    assert drawn == [b.next_action() for _ in range(10_000)] and drawn[:1] == first
    share = {action: drawn.count(action) / len(drawn) for action in ("cut", "drop", "delay", "pass")}
    assert share == pytest.approx({"cut": 0.1, "drop": 0.1, "delay": 0.2, "pass": 0.6}, abs=0.02)
    with pytest.raises(ValueError, match="add up"):
        Schedule(cut=0.6, drop=0.6)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "192.168.1.10", "example.com", "::"])  # noqa: S104
def test_it_refuses_anything_but_loopback(host):
    with pytest.raises(ValueError, match="loopback"):
        require_loopback(host)
    with pytest.raises(ValueError, match="loopback"):
        ProxyThread(upstream=(host, 80), schedule=Schedule())
    assert require_loopback("127.0.0.1") == "127.0.0.1" and require_loopback("::1") == "::1"


def test_as_a_process_it_is_driven_through_its_control_port(upstream):
    server, received = upstream
    with ProxyProcess(upstream=("127.0.0.1", server.server_address[1]), schedule=Schedule(seed=3)) as proxy, \
            httpx.Client(base_url=proxy.url) as http:
        assert http.post("/e", content=b"1").content == b"echo:1"
        proxy.start_outage(3600)
        with pytest.raises(httpx.TransportError):
            http.post("/e", content=b"2")
        proxy.start_outage(0)
        assert http.post("/e", content=b"3").content == b"echo:3"
        stats = proxy.stats()
    assert [body for _, _, body in received] == [b"1", b"3"]
    assert stats["actions"]["pass"] == 2 and stats["actions"]["refused"] >= 1 and stats["statuses"] == {"200": 2}
