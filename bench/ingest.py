#!/usr/bin/env python3
"""Ingest benchmark: Loupe's real ASGI server on PostgreSQL vs raw COPY of the same rows, in one run.

N simulated devices (threads, one keep-alive HTTP client each) post batches of prediction events
(5–20 boxes each) to `POST /api/v1/events` on ASGI server processes (uvicorn, as `make run`) started here; in the same run the same
rows are loaded with raw psycopg `COPY … FROM STDIN` (and, as a second baseline, multi-row
`INSERT … ON CONFLICT DO NOTHING RETURNING`) into a scratch table with a UNIQUE (device_id, event_id)
index, one transaction per batch and as many concurrent writers as devices. Rounds are interleaved
(Loupe first on even rounds, last on odd ones). Target: Loupe ≥ 40 % of the raw COPY rate.

    make bench                      # = .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --devices 4 --events 40000 --rounds 3 --workers 2 --profile
    .venv/bin/python bench/ingest.py --smoke   # tiny sizes, seconds: does the bench still run?

Uses (and creates if missing) a dedicated database whose name must contain "bench"; the prediction and
review-item tables there are truncated between rounds. Results go to bench/results/ingest-<ts>.json.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import platform
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402
import psycopg  # noqa: E402
from harness import (  # noqa: E402  (bench/ is on sys.path when a bench runs as a script)
    BenchFailure,
    Server,
    ensure_database,
    free_ports,
    parse_args_with_smoke,
    results_path,
    smoke_database_url,
    start_server,
    stop_servers,
    uvicorn_argv,
    wait_healthy,
)
from harness import git as _git  # noqa: E402
from harness import tail as _tail  # noqa: E402
from psycopg import sql  # noqa: E402

TARGET_RATIO = 0.40
SCRATCH_TABLE = "bench_scratch_prediction"
CAMERA = "door-1"
IMAGE_SIZE = (640, 480)
ROUND_TIMEOUT_S = 600.0
HTTP_TIMEOUT_S = 120.0


# --- options and environment ----------------------------------------------------------------------


def _default_database_url() -> str:
    env = os.environ.get("DATABASE_URL", "")
    if env.startswith(("postgres://", "postgresql://")):
        return env
    return "postgres://postgres@127.0.0.1:5432/loupe_bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default=_default_database_url(),
                   help="PostgreSQL URL of a dedicated bench database (name must contain 'bench')")
    p.add_argument("--devices", type=int, default=4, help="simulated devices = concurrent writers (default 4)")
    p.add_argument("--events", type=int, default=40_000, help="events per round, all devices (default 40000)")
    p.add_argument("--batch", type=int, default=500, help="events per batch / COPY transaction (default 500)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--workers", type=int, default=2,
                   help="server processes on consecutive ports; devices are spread over them (default 2)")
    p.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn",
                   help="ASGI server (default uvicorn, what `make run` serves with)")
    p.add_argument("--port", type=int, default=8600, help="first server port (default 8600)")
    p.add_argument("--app", default="config.asgi:application",
                   help="ASGI application to serve (default config.asgi:application), e.g. to try a variant")
    p.add_argument("--no-insert", action="store_true", help="skip the INSERT … ON CONFLICT baseline")
    p.add_argument("--scratch-like-prediction", action="store_true",
                   help="scratch table = LIKE the prediction table INCLUDING ALL (every index, no FKs) "
                        "instead of just the UNIQUE (device_id, event_id) index")
    p.add_argument("--copy-json", choices=["text", "adapter"], default="text",
                   help="COPY baseline JSON columns: pre-serialised text (default, the raw floor) or Python "
                        "objects through psycopg's Jsonb adapter (json.dumps timed)")
    p.add_argument("--profile", action="store_true",
                   help="after the rounds, cProfile ingest_events in-process on one batch and print the top")
    p.add_argument("--check", action="store_true", help="exit 1 when the 40 %% target is missed")
    p.add_argument("--seed", type=int, default=20261125)
    args = parse_args_with_smoke(p, argv, lambda: {
        "database_url": smoke_database_url("ingest"), "devices": 2, "events": 400, "batch": 100, "rounds": 2,
        "workers": 1, "port": free_ports(1)})
    for name in ("devices", "events", "batch", "rounds", "workers"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be ≥ 1")
    if args.events < args.devices:
        p.error("--events must be ≥ --devices")
    if args.batch > 500:
        p.error("--batch is capped by LOUPE_MAX_BATCH_EVENTS (500)")
    dbname = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in dbname:
        p.error(f"refusing database {dbname!r}: the bench truncates tables, use a database named *bench*")
    return args


def environment(args: argparse.Namespace, pg_version: str, pg_settings: dict[str, str]) -> dict[str, Any]:
    import daphne
    import django
    import uvicorn

    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "pg_settings": pg_settings,
        "django": django.get_version(),
        "daphne": daphne.__version__,
        "uvicorn": uvicorn.__version__,
        "psycopg": psycopg.__version__,
        "httpx": httpx.__version__,
        "commit": _git("rev-parse", "--short", "HEAD") + ("-dirty" if dirty and dirty != "?" else ""),
        "server": args.server,
        "app": args.app,
        "server_workers": args.workers,
        "devices": args.devices,
        "batch": args.batch,
        "events_per_round": args.events,
        "rounds": args.rounds,
        "scratch_table": "like-prediction" if args.scratch_like_prediction else "unique(device_id, event_id)",
        "copy_json": args.copy_json,
    }


# --- CPU accounting (Linux /proc; best effort) ----------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int, *, children: bool = False) -> float:
    """utime + stime of a process (+ cutime + cstime: its reaped children) in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        if children:
            ticks += int(fields[13]) + int(fields[14])
        return ticks / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


_PG_DBNAME = ""  # set in main: client backends of other databases (e.g. a test run) are left out


def _postgres_cpu() -> float:
    """CPU of the PostgreSQL server serving this run: postmaster (with reaped backends), auxiliary processes
    and the backends connected to the bench database. Best effort: backends of other databases that exit
    during a round are counted too (through the postmaster's cutime)."""
    total = 0.0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0.0
    for entry in entries[:100_000]:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if "(postgres)" in stat[:64] or "(postmaster)" in stat[:64]:
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            is_client_backend = "(" in cmdline or "[local]" in cmdline
            if is_client_backend and _PG_DBNAME and f" {_PG_DBNAME} " not in cmdline:
                continue
            # Backends that exit mid-round are accounted in the postmaster's cutime/cstime once reaped.
            total += _proc_cpu(int(entry), children=True)
    return total


def _machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


@dataclass
class CpuSnapshot:
    servers: float
    postgres: float
    client: float
    machine: float
    steal: float

    @classmethod
    def take(cls, server_pids: list[int]) -> CpuSnapshot:
        t = os.times()
        machine, steal = _machine_cpu()
        return cls(sum(_proc_cpu(p) for p in server_pids), _postgres_cpu(), t.user + t.system, machine, steal)

    def minus(self, other: CpuSnapshot) -> dict[str, float]:
        delta = {name: round(getattr(self, name) - getattr(other, name), 2)
                 for name in ("servers", "postgres", "client", "machine", "steal")}
        # Busy CPU not accounted to this run's processes: other load on the machine (noise indicator).
        delta["other"] = round(delta["machine"] - delta["servers"] - delta["postgres"] - delta["client"], 2)
        return delta


# --- workload -------------------------------------------------------------------------------------


@dataclass
class DeviceInfo:
    pk: int
    token: str
    camera_id: int
    site_name: str
    asset_sha: str
    asset_id: int
    port: int


@dataclass
class RoundData:
    bodies: list[list[tuple[bytes, int]]]  # per device: (batch body, event count)
    rows: list[list[tuple[Any, ...]]]  # per device: rows in PREDICTION_COLUMNS order
    events: int
    boxes: int


def _iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def generate_round(round_no: int, devices: list[DeviceInfo], project_id: int, args: argparse.Namespace,
                   run_tag: str) -> RoundData:
    """Pre-generate every batch (orjson-encoded) and the matching rows for COPY/INSERT."""
    rng = random.Random(args.seed + round_no)
    per_device = args.events // len(devices)
    width, height = IMAGE_SIZE
    model = {"name": "people-det", "version": "3", "sha256": "5e" * 32}
    now = datetime.now(UTC).replace(microsecond=0)
    received = now
    bodies: list[list[tuple[bytes, int]]] = []
    rows: list[list[tuple[Any, ...]]] = []
    boxes_total = 0
    for d_index, dev in enumerate(devices):
        dev_bodies: list[tuple[bytes, int]] = []
        dev_rows: list[tuple[Any, ...]] = []
        batch: list[dict[str, Any]] = []
        for k in range(per_device):
            captured = now - timedelta(milliseconds=200 * (per_device - k) + rng.randint(0, 150))
            captured = captured.replace(microsecond=captured.microsecond // 1000 * 1000)
            n = rng.randint(5, 20)
            detections = []
            for _ in range(n):
                w = round(rng.uniform(12, 120), 1)
                h = round(rng.uniform(24, 200), 1)
                x = round(rng.uniform(0, width - w), 1)
                y = round(rng.uniform(0, height - h), 1)
                detections.append({"label": "person", "score": round(rng.uniform(0.80, 0.99), 3),
                                   "box": [x, y, w, h], "track_id": rng.randint(1, 500)})
            # As in the field: most frames are confident; ~10 % carry one doubtful box and ~3 % are
            # flagged by the device, so the default policy queues roughly 15 % (incl. the 2 % audit).
            if rng.random() < 0.10:
                detections[rng.randrange(n)]["score"] = round(rng.uniform(0.30, 0.70), 3)
            reason = "low_confidence" if rng.random() < 0.03 else None
            event: dict[str, Any] = {
                "id": f"{run_tag}-r{round_no}-d{d_index}-{k:07d}", "type": "prediction",
                "captured_at": _iso_ms(captured), "camera": CAMERA, "asset": dev.asset_sha, "frame_index": 0,
                "model": model, "detections": detections, "context": {"route": "42", "stop": dev.site_name},
            }
            if reason:
                event["reason"] = reason
            boxes_total += n
            batch.append(event)
            dev_rows.append((
                project_id, dev.pk, dev.camera_id, dev.asset_id, "device", event["id"], "prediction",
                hashlib.sha256(orjson.dumps(event)).hexdigest(), captured, received, model["name"],
                model["version"], model["sha256"], 0, orjson.dumps(detections).decode(), n, "", None,
                reason or "", orjson.dumps(event["context"]).decode(),
            ))
            if len(batch) == args.batch:
                dev_bodies.append((orjson.dumps({"events": batch}), len(batch)))
                batch = []
        if batch:
            dev_bodies.append((orjson.dumps({"events": batch}), len(batch)))
        bodies.append(dev_bodies)
        rows.append(dev_rows)
    return RoundData(bodies, rows, per_device * len(devices), boxes_total)


def make_jpeg(seed: int) -> bytes:
    """A noisy mid-grey frame: neither dark nor blurry, so the quality signal stays 0 as for good frames."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    pixels = rng.integers(60, 200, size=(height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=80)
    return out.getvalue()


# --- setup (Django in this process; the server runs in its own processes) -------------------------


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def prepare_project(args: argparse.Namespace) -> tuple[int, list[tuple[int, str, int, str]]]:
    from django.core.management import call_command
    from django.db import connections

    from annotations.models import Camera, Project
    from annotations.services import create_device

    call_command("migrate", interactive=False, verbosity=0)
    project, _ = Project.objects.get_or_create(
        slug="bench", defaults={"name": "Ingest benchmark", "label_classes": ["person"]}
    )
    if project.label_classes != ["person"]:
        project.label_classes = ["person"]
        project.save(update_fields=["label_classes"])
    devices = []
    for i in range(args.devices):
        issued = create_device(project=project, site_name=f"bench-site-{i}", camera_names=[CAMERA],
                               device_name=f"bench-device-{i}-{int(time.time())}")
        camera = Camera.objects.get(site__project=project, site__name=f"bench-site-{i}", name=CAMERA)
        devices.append((issued.device.pk, issued.token, camera.pk, f"bench-site-{i}"))
    connections.close_all()
    return project.pk, devices


def prepare_scratch(conn: psycopg.Connection, like_prediction: bool, prediction_table: str) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCRATCH_TABLE)))
    if like_prediction:
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
            sql.Identifier(SCRATCH_TABLE), sql.Identifier(prediction_table)))
        return
    conn.execute(sql.SQL("""
        CREATE TABLE {} (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            project_id bigint NOT NULL, device_id bigint, camera_id bigint, asset_id bigint,
            source varchar(8) NOT NULL, event_id varchar(128) NOT NULL, event_type varchar(16) NOT NULL,
            payload_hash varchar(64) NOT NULL, captured_at timestamptz NOT NULL, received_at timestamptz NOT NULL,
            model_name varchar(120) NOT NULL, model_version varchar(64) NOT NULL, model_sha256 varchar(64) NOT NULL,
            frame_index integer, detections jsonb NOT NULL, detection_count integer NOT NULL,
            count_name varchar(64) NOT NULL, count_value integer, reason varchar(32) NOT NULL, context jsonb NOT NULL
        )""").format(sql.Identifier(SCRATCH_TABLE)))
    conn.execute(sql.SQL("CREATE UNIQUE INDEX {} ON {} (device_id, event_id)").format(
        sql.Identifier(SCRATCH_TABLE + "_event_once"), sql.Identifier(SCRATCH_TABLE)))


# --- servers --------------------------------------------------------------------------------------


def start_servers(args: argparse.Namespace, env: dict[str, str], log_dir: Path, servers: list[Server]) -> None:
    """Start the server processes; `servers` holds each at once so the caller can always stop them."""
    for i in range(args.workers):
        port = args.port + i
        start_server(_server_argv(args, port), port, env, log_dir / f"{args.server}-{port}.log", servers)
    for server in servers:
        wait_healthy(server)


def _server_argv(args: argparse.Namespace, port: int) -> list[str]:
    if args.server == "daphne":
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), args.app]
    return uvicorn_argv(port, args.app)


def _run_threads(n: int, target: Any, server_pids: list[int]) -> tuple[float, dict[str, float], list[str]]:
    """Run target(i) in n threads started together; return (elapsed s, CPU deltas, errors)."""
    errors: list[str] = []
    barrier = threading.Barrier(n + 1, timeout=60)

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except Exception as exc:  # noqa: BLE001 — reported below, the round fails loudly
            errors.append(f"writer {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    before = CpuSnapshot.take(server_pids)
    barrier.wait()
    start = time.perf_counter()
    deadline = start + ROUND_TIMEOUT_S
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - start
    cpu = CpuSnapshot.take(server_pids).minus(before)
    if any(t.is_alive() for t in threads):
        errors.append(f"round did not finish within {ROUND_TIMEOUT_S:.0f} s")
    return elapsed, cpu, errors


def run_loupe(clients: list[httpx.Client], data: RoundData, server_pids: list[int],
              admin: psycopg.Connection) -> dict[str, Any]:
    queued = [0] * len(clients)

    def post_all(i: int) -> None:
        for body, count in data.bodies[i]:
            response = clients[i].post("/api/v1/events", content=body)
            if response.status_code != 200:
                raise BenchFailure(f"HTTP {response.status_code}: {response.text[:500]}")
            results = orjson.loads(response.content)["results"]
            if len(results) != count:
                raise BenchFailure(f"{len(results)} results for {count} events")
            for result in results:
                if result["status"] != "created":
                    raise BenchFailure(f"event not created: {result}")
                if "review_item" in result:
                    queued[i] += 1

    sessions_before = _sessions(admin)
    elapsed, cpu, errors = _run_threads(len(clients), post_all, server_pids)
    if errors:
        raise BenchFailure("Loupe round failed:\n  " + "\n  ".join(errors[:10]))
    batches = sum(len(b) for b in data.bodies)
    return {"elapsed_s": elapsed, "events_per_s": data.events / elapsed, "queued": sum(queued), "cpu_s": cpu,
            "batches": batches, "db_sessions_opened": _sessions(admin) - sessions_before}


def _sessions(conn: psycopg.Connection) -> int:
    """Sessions ever opened on this database (PostgreSQL ≥ 14): shows whether the server reuses connections."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def _copy_sql() -> sql.Composed:
    from activelearning.ingest.services import PREDICTION_COLUMNS

    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(SCRATCH_TABLE), sql.SQL(", ").join(map(sql.Identifier, PREDICTION_COLUMNS)))


def run_copy(conns: list[psycopg.Connection], data: RoundData, batch: int, server_pids: list[int],
             jsonb_adapter: bool = False) -> dict[str, Any]:
    statement = _copy_sql()
    per_writer = data.rows
    if jsonb_adapter:  # JSON columns as Python objects: psycopg's Jsonb dumper (json.dumps) runs in the timed loop
        from psycopg.types.json import Jsonb

        per_writer = [[(*r[:14], Jsonb(orjson.loads(r[14])), *r[15:19], Jsonb(orjson.loads(r[19]))) for r in rows]
                      for rows in data.rows]

    def copy_all(i: int) -> None:
        conn, rows = conns[i], per_writer[i]
        with conn.cursor() as cur:
            for start in range(0, len(rows), batch):
                with conn.transaction(), cur.copy(statement) as copy:
                    for row in rows[start:start + batch]:
                        copy.write_row(row)

    elapsed, cpu, errors = _run_threads(len(conns), copy_all, server_pids)
    if errors:
        raise BenchFailure("COPY round failed:\n  " + "\n  ".join(errors[:10]))
    return {"elapsed_s": elapsed, "events_per_s": data.events / elapsed, "cpu_s": cpu}


def run_insert(conns: list[psycopg.Connection], data: RoundData, batch: int,
               server_pids: list[int]) -> dict[str, Any]:
    from activelearning.ingest.services import PREDICTION_COLUMNS

    def statement(n: int) -> sql.Composed:
        row = sql.SQL("({})").format(sql.SQL(", ").join([sql.Placeholder()] * len(PREDICTION_COLUMNS)))
        return sql.SQL("INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING RETURNING id, event_id").format(
            sql.Identifier(SCRATCH_TABLE), sql.SQL(", ").join(map(sql.Identifier, PREDICTION_COLUMNS)),
            sql.SQL(", ").join([row] * n))

    statements: dict[int, sql.Composed] = {}
    inserted = [0] * len(conns)

    def insert_all(i: int) -> None:
        conn, rows = conns[i], data.rows[i]
        with conn.cursor() as cur:
            for start in range(0, len(rows), batch):
                chunk = rows[start:start + batch]
                stmt = statements.get(len(chunk)) or statement(len(chunk))
                params = [value for row in chunk for value in row]
                with conn.transaction():
                    cur.execute(stmt, params)
                    inserted[i] += len(cur.fetchall())

    for n in {len(r[s:s + batch]) for r in data.rows for s in range(0, len(r), batch)}:
        statements[n] = statement(n)
    elapsed, cpu, errors = _run_threads(len(conns), insert_all, server_pids)
    if not errors and sum(inserted) != data.events:
        errors.append(f"inserted {sum(inserted)} of {data.events} rows")
    if errors:
        raise BenchFailure("INSERT round failed:\n  " + "\n  ".join(errors[:10]))
    return {"elapsed_s": elapsed, "events_per_s": data.events / elapsed, "cpu_s": cpu}


# --- profile --------------------------------------------------------------------------------------


def profile_ingest(device_pk: int, data: RoundData, results_dir: Path, stamp: str,
                   batches: int = 5) -> dict[str, Any]:
    """Time, then cProfile, activelearning.ingest.services.ingest_events in-process (no HTTP, one thread) on a few
    batches with fresh ids against the same PostgreSQL database."""
    from django.db import connections

    from activelearning.ingest.services import ingest_events
    from annotations.models import Device

    device = Device.objects.select_related("project", "site").get(pk=device_pk)
    bodies = [body for body, _ in data.bodies[0]][: batches + 1]
    n_events = sum(count for _, count in data.bodies[0][1: len(bodies)])

    def run(tag: bytes, selected: list[bytes]) -> None:
        for body in selected:
            results = ingest_events(device=device, body=body.replace(b'"id":"', b'"id":"' + tag))
            if any(r.status != "created" for r in results):
                raise BenchFailure("profiled batch was not all created")

    run(b"warm-", bodies[:1])  # imports, connection, caches
    wall, cpu = time.perf_counter(), time.process_time()
    run(b"time-", bodies[1:])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # Wall-clock timer (a CPU-time timer costs ~1 µs a call here and triples the overhead); waiting for
    # PostgreSQL shows up under psycopg's `wait`. Run it on a quiet machine: preemption lands on any line.
    profiler = cProfile.Profile()
    profiler.enable()
    run(b"prof-", bodies[1:])
    profiler.disable()
    connections.close_all()
    path = results_dir / f"ingest-{stamp}.prof"
    profiler.dump_stats(str(path))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
    stats.print_stats(32)
    out.write("--- by own time ---\n")
    stats.sort_stats("tottime").print_stats(16)
    per_batch = len(bodies) - 1
    return {"batches": per_batch, "events": n_events, "wall_ms_per_batch": round(wall * 1000 / per_batch, 1),
            "python_cpu_ms_per_batch": round(cpu * 1000 / per_batch, 1),
            "events_per_s_in_process": round(n_events / wall), "stats_file": str(path.relative_to(ROOT)),
            "text": out.getvalue()}


# --- main -----------------------------------------------------------------------------------------


def _truncate(conn: psycopg.Connection, tables: list[str]) -> None:
    conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
        sql.SQL(", ").join(map(sql.Identifier, tables))))
    conn.execute("CHECKPOINT")  # start every measurement with no dirty buffers from the previous one


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    global _PG_DBNAME
    _PG_DBNAME = urlsplit(args.database_url).path.lstrip("/")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="loupe-bench-"))
    env = {
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOUPE_VAR_DIR": str(tmp / "var"),
        "MEDIA_STORAGE": str(tmp / "media"),
        "LOUPE_SECRET_KEY": "bench-" + hashlib.sha256(stamp.encode()).hexdigest(),
        "LOUPE_DEBUG": "false",
        "LOUPE_LOG_LEVEL": "WARNING",
    }
    os.environ.pop("REDIS_URL", None)  # self-contained: in-memory channel layer, eager Celery
    servers: list[Server] = []
    clients: list[httpx.Client] = []
    conns: list[psycopg.Connection] = []
    try:
        ensure_database(args.database_url)
        django_setup(env)
        from annotations.models import Asset, Prediction
        from reviewer.models import ReviewItem

        prediction_table, item_table = Prediction._meta.db_table, ReviewItem._meta.db_table
        project_id, created = prepare_project(args)
        admin = psycopg.connect(args.database_url, autocommit=True, connect_timeout=10)
        conns.append(admin)
        pg_version = admin.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        pg_settings = dict(admin.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [["shared_buffers", "synchronous_commit", "fsync", "wal_level", "max_wal_size", "full_page_writes",
              "autovacuum"]],
        ).fetchall())
        prepare_scratch(admin, args.scratch_like_prediction, prediction_table)
        env_info = environment(args, pg_version, pg_settings)
        _print_environment(env_info)

        start_servers(args, env, tmp, servers)
        server_pids = [s.proc.pid for s in servers]
        print("  servers            " + ", ".join(f"server pid {s.proc.pid} on :{s.port}" for s in servers),
              flush=True)
        devices: list[DeviceInfo] = []
        for i, (pk, token, camera_id, site) in enumerate(created):
            port = servers[i % len(servers)].port
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT_S,
                                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            clients.append(client)
            jpeg = make_jpeg(args.seed + i)
            sha = hashlib.sha256(jpeg).hexdigest()
            response = client.put(f"/api/v1/media/{sha}", content=jpeg, headers={"Content-Type": "image/jpeg"})
            if response.status_code not in (200, 201):
                raise BenchFailure(f"media upload failed: HTTP {response.status_code} {response.text[:300]}")
            asset_id = admin.execute(sql.SQL("SELECT id FROM {} WHERE sha256 = %s").format(
                sql.Identifier(Asset._meta.db_table)), [sha]).fetchone()[0]  # type: ignore[index]
            devices.append(DeviceInfo(pk, token, camera_id, site, sha, asset_id, port))
        conns.extend(psycopg.connect(args.database_url, autocommit=True, connect_timeout=10)
                     for _ in range(args.devices))
        writers = conns[1:]

        # Warm-up (untimed): one batch per device through every server process and every COPY connection.
        warm = generate_round(-1, devices, project_id, argparse.Namespace(**{**vars(args),
                              "events": args.batch * args.devices}), "warm" + stamp)
        run_loupe(clients, warm, server_pids, admin)
        _truncate(admin, [SCRATCH_TABLE])
        run_copy(writers, warm, args.batch, server_pids)

        rounds: list[dict[str, Any]] = []
        contenders = ["loupe", "copy"] + ([] if args.no_insert else ["insert"])
        print(f"\n{'round':>5} {'order':<20} {'Loupe ev/s':>11} {'COPY ev/s':>10} {'INSERT ev/s':>12} "
              f"{'Loupe/COPY':>10} {'queued':>7} {'conn/batch':>10}  CPU s in Loupe part: server/pg/client/other/steal")
        last_data: RoundData | None = None
        for r in range(args.rounds):
            data = generate_round(r, devices, project_id, args, stamp)
            order = contenders if r % 2 == 0 else list(reversed(contenders))
            row: dict[str, Any] = {"round": r, "order": order, "events": data.events,
                                   "boxes_per_event": round(data.boxes / data.events, 2)}
            for name in order:
                if name == "loupe":
                    _truncate(admin, [prediction_table, item_table])
                    row["loupe"] = run_loupe(clients, data, server_pids, admin)
                elif name == "copy":
                    _truncate(admin, [SCRATCH_TABLE])
                    row["copy"] = run_copy(writers, data, args.batch, server_pids, args.copy_json == "adapter")
                else:
                    _truncate(admin, [SCRATCH_TABLE])
                    row["insert"] = run_insert(writers, data, args.batch, server_pids)
            row["ratio"] = row["loupe"]["events_per_s"] / row["copy"]["events_per_s"]
            rounds.append(row)
            cpu = row["loupe"]["cpu_s"]
            ins = f"{row['insert']['events_per_s']:>12,.0f}" if "insert" in row else f"{'-':>12}"
            print(f"{r:>5} {'>'.join(order):<20} {row['loupe']['events_per_s']:>11,.0f} "
                  f"{row['copy']['events_per_s']:>10,.0f} {ins} {row['ratio']:>10.1%} "
                  f"{row['loupe']['queued'] / data.events:>7.1%} "
                  f"{row['loupe']['db_sessions_opened'] / row['loupe']['batches']:>10.2f}  "
                  f"{cpu['servers']:.1f}/{cpu['postgres']:.1f}/{cpu['client']:.1f}/{cpu['other']:.1f}/{cpu['steal']:.1f}",
                  flush=True)
            last_data = data

        summary = _summarise(rounds, args)
        _print_summary(summary)
        profile = None
        if args.profile and last_data is not None:
            profile = profile_ingest(devices[0].pk, last_data, results_dir, stamp)
            print(f"\ningest_events in-process, {profile['batches']} batches of {args.batch}: "
                  f"{profile['wall_ms_per_batch']} ms wall, {profile['python_cpu_ms_per_batch']} ms Python CPU "
                  f"per batch ({profile['events_per_s_in_process']:,} events/s, one thread, no HTTP); cProfile:")
            print(profile["text"])
        out = results_path("ingest", stamp, args.smoke)
        out.write_bytes(orjson.dumps({"environment": env_info, "args": vars(args), "rounds": rounds,
                                      "summary": summary, "profile": profile}, option=orjson.OPT_INDENT_2))
        print(f"results: {out.relative_to(ROOT)}")
        return 1 if args.check and not summary["pass"] else 0
    except BenchFailure as exc:
        logs = "\n".join(f"--- server :{s.port} log tail ---\n{_tail(s.log)}" for s in servers)
        raise BenchFailure(f"{exc}\n{logs}" if servers else str(exc)) from None
    finally:
        for client in clients:
            client.close()
        for conn in conns:
            conn.close()
        stop_servers(servers)
        shutil.rmtree(tmp, ignore_errors=True)


def _summarise(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    def median(name: str) -> float | None:
        values = [r[name]["events_per_s"] for r in rounds if name in r]
        return statistics.median(values) if values else None

    loupe, copy, insert = median("loupe"), median("copy"), median("insert")
    assert loupe is not None and copy is not None
    ratio = loupe / copy
    return {
        "loupe_events_per_s": round(loupe), "copy_events_per_s": round(copy),
        "insert_events_per_s": round(insert) if insert is not None else None,
        "ratio_loupe_copy": round(ratio, 4),
        "ratio_per_round_median": round(statistics.median(r["ratio"] for r in rounds), 4),
        "ratio_loupe_insert": round(loupe / insert, 4) if insert else None,
        "target": TARGET_RATIO, "pass": ratio >= TARGET_RATIO,
        "queued_fraction": round(statistics.median(r["loupe"]["queued"] / r["events"] for r in rounds), 4),
        "loupe_cpu_ms_per_1k_events": {
            part: round(statistics.median(r["loupe"]["cpu_s"][part] * 1e6 / r["events"] for r in rounds), 1)
            for part in ("servers", "postgres", "client")
        },
        "copy_cpu_ms_per_1k_events": {
            part: round(statistics.median(r["copy"]["cpu_s"][part] * 1e6 / r["events"] for r in rounds), 1)
            for part in ("postgres", "client")
        },
        "insert_cpu_ms_per_1k_events": {
            part: round(statistics.median(r["insert"]["cpu_s"][part] * 1e6 / r["events"] for r in rounds), 1)
            for part in ("postgres", "client")
        } if insert is not None else None,
        "other_cpu_share": round(max(
            r[name]["cpu_s"]["other"] / (r[name]["elapsed_s"] * (os.cpu_count() or 1))
            for r in rounds for name in ("loupe", "copy", "insert") if name in r), 3),
        "loupe_db_sessions_per_batch": round(statistics.median(
            r["loupe"]["db_sessions_opened"] / r["loupe"]["batches"] for r in rounds), 2),
    }


def _print_environment(env: dict[str, Any]) -> None:
    print("Loupe ingest benchmark")
    for key in ("date", "commit", "cpu_count", "cpu_model", "load_avg_at_start", "platform", "python", "postgresql",
                "django", "daphne", "uvicorn", "psycopg", "server", "app", "server_workers", "devices", "batch", "events_per_round",
                "rounds", "scratch_table", "copy_json"):
        print(f"  {key:<18} {env[key]}")
    print(f"  {'pg_settings':<18} {', '.join(f'{k}={v}' for k, v in sorted(env['pg_settings'].items()))}")


def _print_summary(s: dict[str, Any]) -> None:
    print("\nmedian over rounds:")
    print(f"  Loupe   {s['loupe_events_per_s']:>8,} events/s")
    print(f"  COPY    {s['copy_events_per_s']:>8,} events/s")
    if s["insert_events_per_s"] is not None:
        print(f"  INSERT  {s['insert_events_per_s']:>8,} events/s  (Loupe/INSERT {s['ratio_loupe_insert']:.1%})")
    verdict = "PASS" if s["pass"] else "MISS"
    print(f"  Loupe/COPY = {s['ratio_loupe_copy']:.1%} (per-round median {s['ratio_per_round_median']:.1%}); "
          f"target ≥ {s['target']:.0%}: {verdict}")
    print(f"  queued for review: {s['queued_fraction']:.1%} of events")
    cpu = s["loupe_cpu_ms_per_1k_events"]
    line = (f"  CPU ms per 1k events: Loupe server {cpu['servers']} + postgres {cpu['postgres']} + client "
            f"{cpu['client']}; COPY postgres {s['copy_cpu_ms_per_1k_events']['postgres']} + client "
            f"{s['copy_cpu_ms_per_1k_events']['client']}")
    if s["insert_cpu_ms_per_1k_events"]:
        line += (f"; INSERT postgres {s['insert_cpu_ms_per_1k_events']['postgres']} + client "
                 f"{s['insert_cpu_ms_per_1k_events']['client']}")
    print(line)
    print(f"  new PostgreSQL sessions per Loupe batch: {s['loupe_db_sessions_per_batch']}")
    if s["other_cpu_share"] > 0.10:
        print(f"  WARNING: up to {s['other_cpu_share']:.0%} of the machine's CPU went to other processes during "
              "a measurement; the figures are noisy, rerun on a quiet machine")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailure as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        sys.exit(2)
