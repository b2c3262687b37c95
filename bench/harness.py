"""What the benchmarks share: the project root, the scratch database, and the real ASGI servers they start.

Only 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
HEALTH_ATTEMPTS = 150  # × 0.2 s
# The benchmarks measure how fast the stack goes, so their servers raise the per-device and per-person rate
# limits (settings.LOUPE_RATE_LIMITS) far past what one device or person may do in production; said here.
BENCH_RATE_LIMITS = {f"LOUPE_RATE_{scope}": "1000000/min"
                     for scope in ("DEVICE_EVENTS", "DEVICE_MEDIA", "DEVICE_HEARTBEAT", "CLAIM", "MEDIA_READ")}


class BenchFailure(RuntimeError):
    pass


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10,  # noqa: S603
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def ensure_database(url: str) -> None:
    """Create the benchmark's database if it does not exist yet."""
    dbname = urlsplit(url).path.lstrip("/")
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            print(f"created database {dbname}")


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


def uvicorn_argv(port: int, app: str = "config.asgi:application") -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--log-level", "warning", "--forwarded-allow-ips", "", app]


def start_server(argv: list[str], port: int, env: dict[str, str], log: Path, servers: list[Server]) -> None:
    """Start one server process, appending it to `servers` at once so the caller can always stop it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **BENCH_RATE_LIMITS, **env}, stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT)
    servers.append(Server(port, proc, log))


def wait_healthy(server: Server) -> None:
    url = f"http://127.0.0.1:{server.port}/healthz"
    for _ in range(HEALTH_ATTEMPTS):
        if server.proc.poll() is not None:
            raise BenchFailure(f"server on :{server.port} exited ({server.proc.returncode}):\n{tail(server.log)}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchFailure(f"server on :{server.port} not healthy after {HEALTH_ATTEMPTS * 0.2:.0f} s:\n"
                       f"{tail(server.log)}")


def stop_servers(servers: list[Server]) -> None:
    for server in servers:
        if server.proc.poll() is None:
            server.proc.terminate()
    for server in servers:
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=15)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
