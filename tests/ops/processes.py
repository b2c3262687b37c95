"""Helper processes the ops tests stop and start again: a TCP forwarder in front of PostgreSQL, a Redis server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import redis

from tests.server import ROOT


class Proxy:
    def __init__(self, listen_port: int, host: str, port: int) -> None:
        self.argv = [sys.executable, "-m", "tests.ops.tcp_proxy", str(listen_port), host, str(port)]
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Proxy:
        self.process = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "listening"
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class RedisServer:
    """A redis-server of the test's own on `port` (the shared one at 6379 is never stopped)."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(  # noqa: S603
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        for _ in range(200):  # readiness, not timing: until it answers
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                assert self.process.poll() is None, "redis-server exited"
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
