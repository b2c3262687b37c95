"""What the benchmarks share: the project root, the scratch database, the real ASGI servers they start, and
the smoke mode.

Only 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


# --- smoke mode --------------------------------------------------------------------------------------
# `--smoke` runs a bench at tiny sizes through the same code path as a full run (seeding, servers, baseline,
# ratios, results file), in seconds. tests/bench runs every bench this way, so a bench that no longer runs
# against the current code fails `make test` instead of being found broken the next time someone measures.
# Its figures measure nothing.

SMOKE_HELP = ("tiny sizes through the same code path, in seconds: checks that the bench still runs (figures "
              "mean nothing); on its own database and free ports, so a full run's seeded data is left alone")


def parse_args_with_smoke(parser: argparse.ArgumentParser, argv: list[str] | None,
                          smoke_defaults: Callable[[], dict[str, Any]]) -> argparse.Namespace:
    """Parse `argv`; with --smoke, `smoke_defaults()` replaces the defaults (options given explicitly still
    win). A callable, so a full run never probes for free ports or names a smoke database."""
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    if parser.parse_known_args(argv)[0].smoke:
        parser.set_defaults(**smoke_defaults())
    return parser.parse_args(argv)


def smoke_database_url(bench: str) -> str:
    """A smoke run's own database: DATABASE_URL's server and name (PostgreSQL; else the local default) with
    `_bench_smoke_<bench>` appended, so each developer database and each bench gets its own."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/loupe"
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{parts.path.lstrip('/')}_bench_smoke_{bench}"))


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive ports free on 127.0.0.1 now (smoke runs must not collide with a full
    run, or with another worktree's tests, on a fixed port)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count <= 65535 and all(_port_free(first + i) for i in range(count)):
            return first
    raise BenchFailure(f"no {count} consecutive free ports on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def results_path(bench: str, stamp: str, smoke: bool) -> Path:
    """Where a run writes its JSON: bench/results/<bench>-<stamp>.json; a smoke run overwrites
    bench/results/smoke/<bench>.json, so `make test` does not pile files up beside real measurements."""
    path = ROOT / "bench" / "results" / ("smoke" if smoke else "") / (f"{bench}.json" if smoke else
                                                                       f"{bench}-{stamp}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10,  # noqa: S603
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def ensure_database(url: str) -> None:
    """Create the benchmark's database if it does not exist yet, as a copy of the migrated template (below): a
    fresh machine migrates once for every bench instead of once per bench (11 s each)."""
    dbname = urlsplit(url).path.lstrip("/")
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            return
    template = migrated_template(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(dbname),
                                                                        sql.Identifier(template)))
    print(f"created database {dbname} from {template}")


def migrations_fingerprint() -> str:
    """A hash of every migration file: the template is migrated again only when it changes."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def migrated_template(url: str) -> str:
    """A database on `url`'s server migrated to this tree's migrations, named by their hash
    (`loupe_bench_template_<hash>`): migrated once per change of the migration files, then only copied by
    CREATE DATABASE … TEMPLATE. Migrated under a working name and renamed when done, so an interrupted
    migration never leaves a half-made template under the final name."""
    template = f"loupe_bench_template_{migrations_fingerprint()}"
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone():
            return template
        working = f"{template}_migrating"
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(working)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(working)))
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"],  # noqa: S603
                             cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
                             env={**os.environ, "DATABASE_URL": urlunsplit(urlsplit(url)._replace(path=f"/{working}"))})
    if migrate.returncode != 0:
        raise BenchFailure(f"migrating {working} failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(working),
                                                                      sql.Identifier(template)))
    return template


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
