"""Run the real ASGI server (uvicorn, as `make run` does) against the test database, for tests that need real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of the database this test runs in (pytest-django's test database)."""
    s = connection.settings_dict
    assert connection.vendor == "postgresql", "a separate server process needs a shared database"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class LiveServer:
    def __init__(self, media_root: Path, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.media_root = media_root
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_STORAGE": str(self.media_root),
               "LOUPE_UPLOAD_TMP_DIR": str(self.media_root / ".upload-tmp"), "REQUIRE_POSTGRES": "1",
               # Rate-limit counts of its own (in Redis they would outlive the server and meet another run's).
               "LOUPE_CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
               **self.extra_env}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the e2e browser fixtures for the test process only
        self.process = subprocess.Popen(  # noqa: S603  (fixed argv, our own server)
            [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
             # As `make run`: uvicorn believes X-Forwarded-For only from Loupe's trusted proxies (none by default).
             "--forwarded-allow-ips", env.get("LOUPE_TRUSTED_PROXIES", ""), "config.asgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        # Readiness, not timing: poll a bounded number of times until the server answers.
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        # Not left running: it would hold the test database open and the next run could not drop it.
        self.kill()
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        """Stop hard, as a crash or power cut would: no graceful shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
