"""A fault-injecting HTTP/1.1 proxy for tests and benches: it sits between the edge client and a real Loupe
server, on loopback only, and passes, delays, drops or cuts each request by a seeded schedule.

Actions, drawn per request (in arrival order) from `random.Random(seed)`:
- pass: relay the request and the answer.
- delay: relay both, holding the answer back `delay_ms`.
- drop: forward the first half of the request's bytes, then close both connections. The server never sees a
  whole request (so it must store nothing); the client sees its connection break mid-request.
- cut: forward the whole request, read the server's whole answer (so the server has committed), then close the
  client's connection without relaying it: the device never hears that its request succeeded.

An outage (`start_outage`) closes every new connection at once, and every open one at its next request, until
it ends. Every answer the server gave is counted by status, so a test can assert "no 5xx" at the wire.

It parses only as much HTTP as it needs to cut at the right points: the request head and a Content-Length
body (what httpx sends for bytes and JSON; a chunked request is answered 501), and the answer's head and a
Content-Length, chunked or read-to-close body (none for HEAD, 1xx, 204, 304). It acts per TCP connection and
keeps one upstream connection per client connection, so keep-alive works as it does without it.

    python -m tests.faultproxy --upstream 127.0.0.1:8000 --seed 7 --cut 0.05 --drop 0.05 --delay 0.1

prints `listening PORT control PORT` once ready. The control port takes one line per connection: `stats`, or
`outage SECONDS` (0 ends an outage); each answers the counts as one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import random
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACTIONS = ("pass", "delay", "drop", "cut")
NO_BODY_STATUSES = (204, 304)


def require_loopback(host: str) -> str:
    """The host if it is a loopback address; the proxy must never carry faults (or traffic) off the machine."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address: the fault proxy takes loopback addresses only") from None
    if not address.is_loopback:
        raise ValueError(f"{host} is not a loopback address: the fault proxy only runs on 127.0.0.0/8 or ::1")
    return host


def split_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return require_loopback(host.strip("[]")), int(port)


@dataclass
class Schedule:
    """Which fraction of requests each fault gets; the rest pass. Seeded, so a run can be repeated."""

    seed: int = 0
    cut: float = 0.0
    drop: float = 0.0
    delay: float = 0.0
    delay_ms: float = 200.0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if min(self.cut, self.drop, self.delay) < 0 or self.cut + self.drop + self.delay > 1:
            raise ValueError("fault fractions must be ≥ 0 and add up to at most 1")
        self._rng = random.Random(self.seed)

    @property
    def failing_fraction(self) -> float:
        """The fraction of requests whose answer the client never gets (drop + cut)."""
        return self.cut + self.drop

    def next_action(self) -> str:
        x = self._rng.random()
        for action, fraction in (("cut", self.cut), ("drop", self.drop), ("delay", self.delay)):
            if x < fraction:
                return action
            x -= fraction
        return "pass"


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    """The start line and the headers (names lower-cased) of a request or answer head."""
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """A message head up to the blank line; None if the peer closed cleanly before sending one."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionResetError("the connection closed mid-head") from exc
        return None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        out += size_line
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, up to the blank line
                line = await reader.readuntil(b"\r\n")
                out += line
                if line == b"\r\n":
                    return bytes(out)
        out += await reader.readexactly(size + 2)


async def _read_answer(reader: asyncio.StreamReader, method: str) -> tuple[int, bytes, bool]:
    """The server's whole answer: (status, raw bytes, whether the connection must close after it)."""
    head = await _read_head(reader)
    if head is None:
        raise ConnectionResetError("the server closed without answering")
    start, headers = _headers(head)
    status = int(start.split(" ", 2)[1])
    closes = headers.get("connection", "").lower() == "close" or start.startswith("HTTP/1.0")
    if method == "HEAD" or status < 200 or status in NO_BODY_STATUSES:
        return status, head, closes
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, head + await _read_chunked(reader), closes
    if "content-length" in headers:
        return status, head + await reader.readexactly(int(headers["content-length"])), closes
    return status, head + await reader.read(), True  # delimited by the server closing


class FaultProxy:
    """The proxy's state and connection handler; run it on a loop with `serve`, or in a thread (ProxyThread)."""

    def __init__(self, *, upstream: tuple[str, int], schedule: Schedule) -> None:
        self.upstream = (require_loopback(upstream[0]), upstream[1])
        self.schedule = schedule
        self.actions: Counter[str] = Counter()  # pass/delay/drop/cut per request, `refused` per closed connection
        self.statuses: Counter[int] = Counter()  # every answer the server gave, relayed or not
        self._outage_until = 0.0
        self._lock = threading.Lock()  # counts are read from other threads (ProxyThread.stats)

    def _count(self, action: str) -> None:
        with self._lock:
            self.actions[action] += 1

    def start_outage(self, seconds: float) -> None:
        """Close every connection for `seconds` from now (0 ends a running outage). Call on the proxy's loop."""
        self._outage_until = asyncio.get_running_loop().time() + seconds

    def in_outage(self) -> bool:
        return asyncio.get_running_loop().time() < self._outage_until

    def stats(self) -> dict[str, Any]:
        with self._lock:
            answered = sum(self.statuses.values())
            return {"actions": {a: self.actions[a] for a in (*ACTIONS, "refused")},
                    "statuses": {str(s): n for s, n in sorted(self.statuses.items())}, "answered": answered,
                    "server_errors": sum(n for s, n in self.statuses.items() if s >= 500)}

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
        return await asyncio.start_server(self.handle, require_loopback(host), port)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        """Relay one client connection's requests, one at a time, applying the schedule to each."""
        upstream: asyncio.StreamWriter | None = None
        try:
            upstream_reader: asyncio.StreamReader | None = None
            while True:
                if self.in_outage():
                    self._count("refused")
                    return
                head = await _read_head(client_reader)
                if head is None or self.in_outage():
                    if head is not None:
                        self._count("refused")
                    return
                start, headers = _headers(head)
                method = start.split(" ", 1)[0]
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    client_writer.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n"
                                        b"Connection: close\r\n\r\n")
                    await client_writer.drain()
                    return
                request = head + await client_reader.readexactly(int(headers.get("content-length", "0")))
                action = self.schedule.next_action()
                self._count(action)
                if upstream is None or upstream_reader is None or upstream_reader.at_eof():
                    # (Re)connect: the server closes idle keep-alive connections on its own timer (uvicorn: 5 s),
                    # which must not turn into a fault the schedule did not choose.
                    if upstream is not None:
                        upstream.close()
                    upstream_reader, upstream = await asyncio.open_connection(*self.upstream)
                if action == "drop":
                    upstream.write(request[: len(request) // 2])
                    await upstream.drain()
                    return
                upstream.write(request)
                await upstream.drain()
                status, answer, closes = await _read_answer(upstream_reader, method)
                with self._lock:
                    self.statuses[status] += 1
                if action == "cut":
                    return
                if action == "delay":
                    await asyncio.sleep(self.schedule.delay_ms / 1000)
                client_writer.write(answer)
                await client_writer.drain()
                if closes or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            return  # either side went away or spoke something we do not parse: the connection ends
        finally:
            for writer in (client_writer, upstream):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(ConnectionError, OSError):
                        await writer.wait_closed()


class ProxyThread:
    """The proxy on its own event loop in a daemon thread of this process (for unit tests)."""

    def __init__(self, *, upstream: tuple[str, int], schedule: Schedule) -> None:
        self.proxy = FaultProxy(upstream=upstream, schedule=schedule)
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, name="faultproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProxyThread:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(self.proxy.serve(), self.loop).result(timeout=10)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return self

    def start_outage(self, seconds: float) -> None:
        self.loop.call_soon_threadsafe(self.proxy.start_outage, seconds)

    def stats(self) -> dict[str, Any]:
        return self.proxy.stats()

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            # Connections still open (a client's idle keep-alive socket) are cancelled, not waited for.
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def __enter__(self) -> ProxyThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ProxyProcess:
    """The proxy as its own process (`python -m tests.faultproxy`), driven through its control port: it takes
    none of the test's or the bench's CPU time under the GIL."""

    def __init__(self, *, upstream: tuple[str, int], schedule: Schedule) -> None:
        self.upstream = (require_loopback(upstream[0]), upstream[1])
        self.schedule = schedule
        self.port = self.control_port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProxyProcess:
        s = self.schedule
        self.process = subprocess.Popen(  # noqa: S603  (fixed argv: this module)
            [sys.executable, "-m", "tests.faultproxy", "--upstream", f"{self.upstream[0]}:{self.upstream[1]}",
             "--seed", str(s.seed), "--cut", str(s.cut), "--drop", str(s.drop), "--delay", str(s.delay),
             "--delay-ms", str(s.delay_ms)],
            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().split()  # readiness: the process prints its ports once bound
        if len(ready) != 4 or ready[0] != "listening":
            self.stop()
            raise RuntimeError(f"the fault proxy did not start: {ready}")
        self.port, self.control_port = int(ready[1]), int(ready[3])
        return self

    def _control(self, line: str) -> dict[str, Any]:
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=10) as sock:
            sock.sendall(line.encode() + b"\n")
            answer = sock.makefile("rb").readline()
        return dict(json.loads(answer))

    def start_outage(self, seconds: float) -> dict[str, Any]:
        return self._control(f"outage {seconds}")

    def stats(self) -> dict[str, Any]:
        return self._control("stats")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _control_handler(proxy: FaultProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        command, _, argument = (await reader.readline()).decode().strip().partition(" ")
        if command == "outage":
            proxy.start_outage(float(argument))
        writer.write(json.dumps(proxy.stats()).encode() + b"\n")
        await writer.drain()
    finally:
        writer.close()


async def _main(args: argparse.Namespace) -> None:
    schedule = Schedule(seed=args.seed, cut=args.cut, drop=args.drop, delay=args.delay, delay_ms=args.delay_ms)
    proxy = FaultProxy(upstream=split_address(args.upstream), schedule=schedule)
    host, port = split_address(args.listen)
    server = await proxy.serve(host, port)
    control = await asyncio.start_server(lambda r, w: _control_handler(proxy, r, w), host, args.control_port)
    print(f"listening {server.sockets[0].getsockname()[1]} control {control.sockets[0].getsockname()[1]}",
          flush=True)
    async with server, control:
        await asyncio.gather(server.serve_forever(), control.serve_forever())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tests.faultproxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="the server, HOST:PORT on loopback")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT on loopback (port 0: any free one)")
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    for fault in ("cut", "drop", "delay"):
        p.add_argument(f"--{fault}", type=float, default=0.0, help=f"fraction of requests to {fault}")
    p.add_argument("--delay-ms", type=float, default=200.0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(p.parse_args(argv)))


if __name__ == "__main__":
    main()
