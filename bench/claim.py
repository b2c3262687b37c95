#!/usr/bin/env python3
"""Claim-queue benchmark: Loupe's claim (service and HTTP API) vs a raw psycopg claim loop, in one run.

PostgreSQL with 1,000,000 pending review items across 20 sites (seeded once with SQL, reused while it
holds the right number of items). N concurrent claimers (default 16) each claim-then-submit in a loop.
Every mode is measured two ways:

  closed  each claimer as fast as it can for a fixed count of cycles: the most claims/s the stack sustains;
  open    a fixed offered load (default 200 claims/s): request start times are scheduled at fixed intervals
          and latency is measured from the *scheduled* time (no coordinated omission).

Modes (interleaved per round: raw first on even rounds, last on odd ones):

  raw      psycopg: UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, then a
           one-statement submit (status accepted). The floor.
  sql      Loupe's exact claim statement (captured from reviewer.queue.claim_next) through psycopg, same
           one-statement submit: the query alone, no Django.
  service  reviewer.queue.claim_next + reviewer.services.submit_annotation in-process (16 threads).
  http     POST /api/v1/projects/{id}/queue/claim + POST /api/v1/items/{id}/submit through uvicorn
           (--workers processes on consecutive ports), one keep-alive httpx client per claimer.

Latency is the claim's (request start to response); closed-loop throughput is claim+submit cycles/s.
Double claims (the same item handed out twice within a phase) must be 0. Between phases every item the
phase touched is put back to pending, its annotations and audit events are deleted and the table vacuumed.

    .venv/bin/python bench/claim.py                           # all modes, 1 round
    .venv/bin/python bench/claim.py --modes raw,http --rounds 2 --explain
    .venv/bin/python bench/claim.py --smoke                   # tiny sizes, seconds: does the bench still run?

Uses (and creates if missing) a dedicated database whose name must contain "bench" (default
loupe_bench_claim). Results go to bench/results/claim-<ts>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import contextlib  # noqa: E402

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

PROJECT_SLUG = "bench-claim"
USER_PREFIX = "claim-bench-"
PHASE_TIMEOUT_S = 240.0
HTTP_TIMEOUT_S = 30.0
SUBMIT_BODY = {"boxes": [{"label": "person", "box": [10, 10, 20, 40]}]}
# Targets from the issue.
TARGET_RATIO = 1.2  # Loupe's claim query p50/p99 within 1.2× of the raw loop at the same offered load
TARGET_HTTP_P50_MS, TARGET_HTTP_P99_MS = 10.0, 25.0
TABLE = "reviewer_reviewitem"

RAW_CLAIM = (
    f"UPDATE {TABLE} SET status = 'leased', lease_holder_id = %s, lease_token = %s, "  # noqa: S608
    "lease_expires_at = now() + interval '600 seconds', updated_at = now() "
    f"WHERE id = (SELECT i.id FROM {TABLE} i WHERE i.project_id = %s AND i.status = 'pending' "
    "ORDER BY i.priority DESC, i.id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
)
RAW_SUBMIT = (
    f"UPDATE {TABLE} SET status = 'accepted', lease_holder_id = NULL, lease_token = '', "  # noqa: S608
    "lease_expires_at = NULL, annotations_count = annotations_count + 1, updated_at = now() "
    "WHERE id = %s AND status = 'leased' AND lease_holder_id = %s AND lease_token = %s"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    env = os.environ.get("DATABASE_URL", "")
    p.add_argument("--database-url", default=env if "bench_claim" in env else
                   "postgres://postgres@127.0.0.1:5432/loupe_bench_claim",
                   help="PostgreSQL URL of a dedicated bench database (name must contain 'bench')")
    p.add_argument("--items", type=int, default=1_000_000, help="pending items (default 1,000,000)")
    p.add_argument("--sites", type=int, default=20, help="sites the items are spread over (default 20)")
    p.add_argument("--claimers", type=int, default=16, help="concurrent claimers (default 16)")
    p.add_argument("--cycles", type=int, default=150,
                   help="closed loop: claim+submit cycles per claimer (default 150)")
    p.add_argument("--rate", type=float, default=200.0, help="open loop: offered claims/s (default 200)")
    p.add_argument("--open-seconds", type=float, default=10.0, help="open loop: duration (default 10 s)")
    p.add_argument("--modes", default="raw,sql,service,http", help="comma list of raw,sql,service,http")
    p.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    p.add_argument("--workers", type=int, default=2, help="uvicorn processes on consecutive ports (default 2)")
    p.add_argument("--port", type=int, default=8700, help="first server port (default 8700)")
    p.add_argument("--no-queue-stats", action="store_true",
                   help="measurement-only patch: skip the queue.stats push after claim/submit "
                        "(reviewer.realtime.send_queue_stats = no-op) in-process and in the servers")
    p.add_argument("--explain", action="store_true",
                   help="print EXPLAIN (ANALYZE, BUFFERS) of Loupe's claim statement (rolled back)")
    p.add_argument("--reseed", action="store_true", help="drop the bench project's rows and seed again")
    # A smoke run seeds again every time: the seed's hand-written SQL must meet the current schema on every run.
    # Its open loops last half a second each (25 claims at 50/s): they wait out wall-clock time, four of them.
    args = parse_args_with_smoke(p, argv, lambda: {
        "database_url": smoke_database_url("claim"), "reseed": True, "items": 2000, "sites": 4, "claimers": 4,
        "cycles": 10, "rate": 50.0, "open_seconds": 0.5, "workers": 1, "port": free_ports(1)})
    dbname = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in dbname:
        p.error(f"refusing database {dbname!r}: the bench rewrites tables, use a database named *bench*")
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - {"raw", "sql", "service", "http"}
    if unknown:
        p.error(f"unknown modes {sorted(unknown)}")
    return args


def environment(args: argparse.Namespace, admin: psycopg.Connection) -> dict[str, Any]:
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
    pg_settings = dict(admin.execute(
        "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
        [["shared_buffers", "synchronous_commit", "fsync", "max_connections", "autovacuum", "work_mem"]],
    ).fetchall())
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short", "HEAD") + ("-dirty" if dirty and dirty != "?" else ""),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": admin.execute("SHOW server_version").fetchone()[0],  # type: ignore[index]
        "pg_settings": pg_settings,
        "django": django.get_version(),
        "uvicorn": uvicorn.__version__,
        "psycopg": psycopg.__version__,
        "httpx": httpx.__version__,
        "items": args.items,
        "sites": args.sites,
        "claimers": args.claimers,
        "cycles_per_claimer": args.cycles,
        "open_rate": args.rate,
        "open_seconds": args.open_seconds,
        "server_workers": args.workers,
        "modes": args.modes,
        "rounds": args.rounds,
        "queue_stats_push": "patched out" if args.no_queue_stats else "as shipped",
    }


# --- setup ----------------------------------------------------------------------------------------


def django_setup(env: dict[str, str], no_queue_stats: bool) -> None:
    os.environ.update(env)
    import django

    django.setup()
    if no_queue_stats:
        from reviewer import realtime

        realtime.send_queue_stats = lambda project_id: None  # type: ignore[assignment]


def seed(admin: psycopg.Connection, args: argparse.Namespace) -> tuple[int, list[tuple[int, str]]]:
    """Project, sites, claimers (users + memberships + DRF tokens) and items; items only if missing."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from annotations.models import Membership, Project, Role, Site

    call_command("migrate", interactive=False, verbosity=0)
    project, _ = Project.objects.get_or_create(
        slug=PROJECT_SLUG, defaults={"name": "Claim benchmark", "label_classes": ["person"], "qa_sample_rate": 0.0})
    # The claim loop is measured, not retraining: acceptances are still counted (the upsert is on the submit
    # path), but a threshold of 0 never freezes a dataset or starts a training mid-run.
    if (project.qa_sample_rate != 0.0 or project.label_classes != ["person"] or project.consensus_overlap != 1
            or project.retrain_threshold != 0):
        project.qa_sample_rate, project.label_classes, project.consensus_overlap = 0.0, ["person"], 1
        project.retrain_threshold = 0
        project.save(update_fields=["qa_sample_rate", "label_classes", "consensus_overlap", "retrain_threshold"])
    for s in range(args.sites):
        Site.objects.get_or_create(project=project, name=f"site-{s:02d}")
    claimers = []
    for c in range(args.claimers):
        user = User.objects.filter(username=f"{USER_PREFIX}{c:02d}").first() or User.objects.create_user(
            f"{USER_PREFIX}{c:02d}", password=secrets.token_hex(12))
        Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.ANNOTATOR})
        token, _ = Token.objects.get_or_create(user=user)
        claimers.append((user.pk, token.key))
    connections.close_all()

    have = admin.execute(f"SELECT count(*) FROM {TABLE} WHERE project_id = %s",  # noqa: S608
                         [project.pk]).fetchone()[0]  # type: ignore[index]
    if have == args.items and not args.reseed:
        print(f"  reusing {have:,} seeded items")
        return project.pk, claimers
    t0 = time.perf_counter()
    print(f"  seeding {args.items:,} items (found {have:,}) …", flush=True)
    p = project.pk
    with admin.transaction():
        admin.execute("DELETE FROM annotations_annotation WHERE project_id = %s", [p])
        admin.execute("DELETE FROM annotations_auditevent WHERE project_id = %s", [p])
        admin.execute(f"DELETE FROM {TABLE} WHERE project_id = %s", [p])  # noqa: S608
        admin.execute("DELETE FROM annotations_prediction WHERE project_id = %s", [p])
        admin.execute("DELETE FROM annotations_asset WHERE file LIKE 'claimbench/%%'")
        admin.execute("""
            INSERT INTO annotations_asset (sha256, kind, content_type, file, size_bytes, width, height, created_at)
            SELECT h, 'frame', 'image/jpeg', 'claimbench/' || h || '.jpg', 1000, 640, 480, now()
            FROM (SELECT encode(sha256(('claimbench-' || g)::bytea), 'hex') AS h
                  FROM generate_series(1, %s) g) s""", [args.items])
        admin.execute("""
            INSERT INTO annotations_prediction (source, event_id, event_type, payload_hash, captured_at,
                received_at, model_name, model_version, model_sha256, frame_index, detections, detection_count,
                count_name, count_value, reason, context, asset_id, camera_id, device_id, project_id)
            SELECT 'server', '', 'prediction', 'x', now(), now(), 'people-det', '3', '', 0,
                '[{"label": "person", "score": 0.4, "box": [10.0, 20.0, 30.0, 60.0]}]'::jsonb, 1, '', NULL,
                'low_confidence', '{}'::jsonb, a.id, NULL, NULL, %s
            FROM annotations_asset a WHERE a.file LIKE 'claimbench/%%'""", [p])
        admin.execute(f"""
            INSERT INTO {TABLE} (reason, priority, score_parts, status, required_overlap, lease_token,
                created_at, updated_at, asset_id, prediction_id, project_id, site_id, annotations_count,
                last_comment, lease_prefetch)
            SELECT 'low_confidence', random(), '{{}}'::jsonb, 'pending', 1, '', now(), now(), pr.asset_id, pr.id,
                %s, (SELECT array_agg(id ORDER BY id) FROM annotations_site WHERE project_id = %s)[1 + pr.id %% %s],
                0, '', false
            FROM annotations_prediction pr WHERE pr.project_id = %s""", [p, p, args.sites, p])  # noqa: S608
    admin.execute(f"VACUUM ANALYZE {TABLE}")
    admin.execute("VACUUM ANALYZE annotations_asset")
    admin.execute("VACUUM ANALYZE annotations_prediction")
    print(f"  seeded in {time.perf_counter() - t0:.0f} s", flush=True)
    return p, claimers


def reset(admin: psycopg.Connection, project_id: int) -> int:
    """Every item a phase touched back to pending; its annotations and audit events gone; vacuumed."""
    with admin.transaction():
        n = admin.execute(
            f"UPDATE {TABLE} SET status = 'pending', lease_holder_id = NULL, lease_token = '', "  # noqa: S608
            "lease_expires_at = NULL, lease_prefetch = false, annotations_count = 0, agreement = NULL "
            "WHERE project_id = %s AND status <> 'pending'", [project_id]).rowcount
        # What an acceptance may have led to (retraining of earlier runs, webhook rows) goes first.
        for table in ("activelearning_trainingrun", "activelearning_datasetentry"):
            admin.execute(f"DELETE FROM {table} WHERE dataset_version_id IN (SELECT id FROM "  # noqa: S608
                          "activelearning_datasetversion WHERE project_id = %s)", [project_id])
        admin.execute("DELETE FROM activelearning_datasetversion WHERE project_id = %s", [project_id])
        admin.execute("DELETE FROM activelearning_retrainrequest WHERE project_id = %s", [project_id])
        admin.execute("DELETE FROM activelearning_retrainstate WHERE project_id = %s", [project_id])
        admin.execute("DELETE FROM annotations_annotation WHERE project_id = %s", [project_id])
        admin.execute("DELETE FROM annotations_auditevent WHERE project_id = %s", [project_id])
    admin.execute(f"VACUUM {TABLE}")
    admin.execute("VACUUM annotations_annotation")
    admin.execute("VACUUM annotations_auditevent")
    admin.execute("CHECKPOINT")
    return n


def capture_loupe_sql(project_id: int, user_ids: list[int]) -> dict[int, tuple[str, list[Any]]]:
    """The exact claim statement claim_next issues for each claimer (captured, then rolled back)."""
    from django.contrib.auth.models import User
    from django.db import connection, connections

    from annotations.models import Membership
    from reviewer.queue import ClaimFilter, claim_next

    class Captured(Exception):
        pass

    out: dict[int, tuple[str, list[Any]]] = {}
    for uid in user_ids:
        seen: list[tuple[str, list[Any]]] = []

        def wrapper(execute: Any, sql_text: str, params: Any, many: bool, context: Any,
                    seen: list[tuple[str, list[Any]]] = seen) -> Any:
            if sql_text.lstrip().upper().startswith(("UPDATE", "WITH")) and "COALESCE" in sql_text:
                seen.append((sql_text, list(params)))
                raise Captured
            return execute(sql_text, params, many, context)

        user = User.objects.get(pk=uid)
        membership = Membership.objects.get(project_id=project_id, user=user)
        with connection.execute_wrapper(wrapper), contextlib.suppress(Captured):
            claim_next(user=user, membership=membership, claim=ClaimFilter())
        if not seen:
            raise BenchFailure("could not capture claim_next's UPDATE statement")
        out[uid] = seen[0]
    connections.close_all()
    return out


def explain(admin: psycopg.Connection, statement: tuple[str, list[Any]]) -> str:
    text, params = statement
    params = list(params)
    params[1] = "explain-" + secrets.token_hex(8)
    try:
        with admin.transaction(force_rollback=True):
            rows = admin.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS) " + text, params).fetchall()
    except psycopg.Error as exc:
        return f"EXPLAIN failed: {exc}"
    return "\n".join(r[0] for r in rows)


# --- servers (as bench/ingest.py) -----------------------------------------------------------------


def start_servers(args: argparse.Namespace, env: dict[str, str], log_dir: Path, servers: list[Server]) -> None:
    for i in range(args.workers):
        port = args.port + i
        log = log_dir / f"uvicorn-{port}.log"
        if args.no_queue_stats:
            boot = ("import django; django.setup(); from reviewer import realtime; "
                    "realtime.send_queue_stats = lambda project_id: None; import uvicorn; "
                    f"uvicorn.run('config.asgi:application', host='127.0.0.1', port={port}, access_log=False, "
                    "log_level='warning', forwarded_allow_ips='')")
            argv = [sys.executable, "-c", boot]
        else:
            argv = uvicorn_argv(port)
        start_server(argv, port, env, log, servers)
    for server in servers:
        wait_healthy(server)


class RawClaimer:
    def __init__(self, url: str, user_id: int, project_id: int, statement: tuple[str, list[Any]] | None) -> None:
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        self.user_id, self.project_id, self.statement = user_id, project_id, statement

    def claim(self) -> tuple[int, str] | None:
        token = secrets.token_hex(16)
        if self.statement is None:
            row = self.conn.execute(RAW_CLAIM, [self.user_id, token, self.project_id]).fetchone()
        else:
            text, params = self.statement
            row = self.conn.execute(text, [params[0], token, *params[2:]]).fetchone()
        return (row[0], token) if row else None

    def submit(self, item_id: int, token: str) -> None:
        if self.conn.execute(RAW_SUBMIT, [item_id, self.user_id, token]).rowcount != 1:
            raise BenchFailure(f"raw submit of item {item_id} found no live lease")

    def close(self) -> None:
        self.conn.close()


class ServiceClaimer:
    def __init__(self, user_id: int, project_id: int) -> None:
        from django.contrib.auth.models import User

        from annotations.models import Membership

        self.user = User.objects.get(pk=user_id)
        self.membership = Membership.objects.get(project_id=project_id, user=self.user)

    def claim(self) -> tuple[int, str] | None:
        from reviewer.queue import ClaimFilter, claim_next

        item = claim_next(user=self.user, membership=self.membership, claim=ClaimFilter())
        if item is None:
            return None
        self.item = item
        return item.pk, item.lease_token

    def submit(self, item_id: int, token: str) -> None:
        from reviewer.services import Submission, submit_annotation

        _, created, _ = submit_annotation(item=self.item, user=self.user, lease_token=token,
                                       submission=Submission(boxes=SUBMIT_BODY["boxes"]))
        if not created:
            raise BenchFailure(f"service submit of item {item_id} was not stored")

    def close(self) -> None:
        from django.db import connection

        connection.close()


class HttpClaimer:
    def __init__(self, port: int, token: str, project_id: int) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT_S,
                                   headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
        self.claim_url = f"/api/v1/projects/{project_id}/queue/claim"

    def claim(self) -> tuple[int, str] | None:
        r = self.client.post(self.claim_url, content=b"{}")
        if r.status_code == 204:
            return None
        if r.status_code != 200:
            raise BenchFailure(f"claim: HTTP {r.status_code} {r.text[:300]}")
        body = r.json()
        return body["id"], body["lease_token"]

    def submit(self, item_id: int, token: str) -> None:
        r = self.client.post(f"/api/v1/items/{item_id}/submit",
                             content=orjson.dumps({"lease_token": token, **SUBMIT_BODY}))
        if r.status_code != 201:
            raise BenchFailure(f"submit item {item_id}: HTTP {r.status_code} {r.text[:300]}")

    def close(self) -> None:
        self.client.close()


# --- loops ----------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[k]


def run_phase(claimers: list[Any], *, loop: str, cycles: int, rate: float, seconds: float) -> dict[str, Any]:
    """closed: each claimer does `cycles` claim+submit cycles back to back. open: claims start on a shared
    schedule (t0 + k/rate); a free claimer takes the next slot, sleeping until it is due; latency counts from
    the slot's time, so a stall shows as latency, not as fewer requests."""
    n = len(claimers)
    claim_ms: list[list[float]] = [[] for _ in range(n)]
    submit_ms: list[list[float]] = [[] for _ in range(n)]
    ids: list[list[int]] = [[] for _ in range(n)]
    errors: list[str] = []
    empty = [0]
    slot = [0]
    total_slots = int(rate * seconds)
    lock = threading.Lock()
    barrier = threading.Barrier(n + 1, timeout=60)
    t0_box = [0.0]

    def cycle(i: int, scheduled: float) -> None:
        got = claimers[i].claim()
        done = time.perf_counter()
        claim_ms[i].append((done - scheduled) * 1000)
        if got is None:
            empty[0] += 1
            return
        ids[i].append(got[0])
        s0 = time.perf_counter()
        claimers[i].submit(*got)
        submit_ms[i].append((time.perf_counter() - s0) * 1000)

    def body(i: int) -> None:
        try:
            barrier.wait()
            if loop == "closed":
                for _ in range(cycles):
                    cycle(i, time.perf_counter())
            else:
                while True:
                    with lock:
                        k = slot[0]
                        slot[0] += 1
                    if k >= total_slots:
                        return
                    due = t0_box[0] + k / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    cycle(i, due)
        except Exception as exc:  # noqa: BLE001 — reported below, the phase fails loudly
            errors.append(f"claimer {i}: {type(exc).__name__}: {exc}")
        finally:
            getattr(claimers[i], "thread_done", lambda: None)()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    t0_box[0] = time.perf_counter() + 0.05
    barrier.wait()
    start = time.perf_counter()
    deadline = start + PHASE_TIMEOUT_S
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - start
    if any(t.is_alive() for t in threads):
        errors.append(f"phase did not finish within {PHASE_TIMEOUT_S:.0f} s")
    if errors:
        raise BenchFailure("; ".join(errors[:5]))
    lat = [x for per in claim_ms for x in per]
    sub = [x for per in submit_ms for x in per]
    all_ids = [x for per in ids for x in per]
    return {
        "loop": loop, "claims": len(all_ids), "empty": empty[0], "elapsed_s": round(elapsed, 3),
        "claims_per_s": round(len(all_ids) / elapsed, 1),
        "claim_p50_ms": round(_pct(lat, 0.50), 2), "claim_p99_ms": round(_pct(lat, 0.99), 2),
        "claim_max_ms": round(max(lat), 2) if lat else None,
        "submit_p50_ms": round(_pct(sub, 0.50), 2), "submit_p99_ms": round(_pct(sub, 0.99), 2),
        "double_claims": len(all_ids) - len(set(all_ids)),
    }


def make_claimers(mode: str, args: argparse.Namespace, project_id: int, users: list[tuple[int, str]],
                  statements: dict[int, tuple[str, list[Any]]], servers: list[Server]) -> list[Any]:
    if mode == "raw":
        return [RawClaimer(args.database_url, uid, project_id, None) for uid, _ in users]
    if mode == "sql":
        return [RawClaimer(args.database_url, uid, project_id, statements[uid]) for uid, _ in users]
    if mode == "http":
        return [HttpClaimer(servers[i % len(servers)].port, key, project_id) for i, (_, key) in enumerate(users)]
    return [ServiceClaimer(uid, project_id) for uid, _ in users]


def run_mode(mode: str, args: argparse.Namespace, project_id: int, users: list[tuple[int, str]],
             statements: dict[int, tuple[str, list[Any]]], servers: list[Server],
             admin: psycopg.Connection) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if mode == "service":
        # Django connections are per thread: build and close each ServiceClaimer on its claimer's thread.
        holder: dict[int, Any] = {}

        class Lazy:
            def __init__(self, i: int, uid: int) -> None:
                self.i, self.uid = i, uid

            def _c(self) -> Any:
                key = threading.get_ident()
                if key not in holder:
                    holder[key] = ServiceClaimer(self.uid, project_id)
                return holder[key]

            def claim(self) -> Any:
                return self._c().claim()

            def submit(self, item_id: int, token: str) -> None:
                self._c().submit(item_id, token)

            def thread_done(self) -> None:  # give the thread's Django connection back to the pool
                c = holder.pop(threading.get_ident(), None)
                if c is not None:
                    c.close()

        claimers: list[Any] = [Lazy(i, uid) for i, (uid, _) in enumerate(users)]
    else:
        claimers = make_claimers(mode, args, project_id, users, statements, servers)
    try:
        for loop in ("closed", "open"):
            reset(admin, project_id)
            # warm-up (untimed): a few cycles per claimer, then back to pending
            run_phase(claimers, loop="closed", cycles=3, rate=args.rate, seconds=args.open_seconds)
            reset(admin, project_id)
            phase = run_phase(claimers, loop=loop, cycles=args.cycles, rate=args.rate, seconds=args.open_seconds)
            result[loop] = phase
            print(f"  {mode:<8} {loop:<6} {phase['claims']:>6} claims {phase['claims_per_s']:>8,.1f}/s  "
                  f"claim p50 {phase['claim_p50_ms']:>7.2f} ms  p99 {phase['claim_p99_ms']:>8.2f} ms  "
                  f"(max {phase['claim_max_ms']:.1f})  submit p50 {phase['submit_p50_ms']:.2f} ms  "
                  f"doubles {phase['double_claims']}", flush=True)
    finally:
        if mode != "service":
            for c in claimers:
                c.close()
    return result


# --- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tmp = Path(tempfile.mkdtemp(prefix="loupe-bench-claim-"))
    env = {
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOUPE_VAR_DIR": str(tmp / "var"),
        "MEDIA_STORAGE": str(tmp / "media"),
        "LOUPE_SECRET_KEY": "bench-" + hashlib.sha256(stamp.encode()).hexdigest(),
        "LOUPE_DEBUG": "false",
        "LOUPE_LOG_LEVEL": "WARNING",
    }
    os.environ.pop("REDIS_URL", None)  # self-contained: in-memory channel layer
    servers: list[Server] = []
    admin: psycopg.Connection | None = None
    try:
        ensure_database(args.database_url)
        django_setup(env, args.no_queue_stats)
        admin = psycopg.connect(args.database_url, autocommit=True, connect_timeout=10)
        env_info = environment(args, admin)
        print("Loupe claim-queue benchmark")
        for key, value in env_info.items():
            print(f"  {key:<20} {value}")
        project_id, users = seed(admin, args)
        reset(admin, project_id)
        statements = capture_loupe_sql(project_id, [uid for uid, _ in users])
        plan = None
        if args.explain:
            plan = explain(admin, statements[users[0][0]])
            print("\nEXPLAIN (ANALYZE, BUFFERS) of Loupe's claim statement (rolled back):\n" + plan + "\n")
        if "http" in args.modes:
            start_servers(args, env, tmp, servers)
            print("  servers              " + ", ".join(f"pid {s.proc.pid} on :{s.port}" for s in servers),
                  flush=True)
        rounds: list[dict[str, Any]] = []
        for r in range(args.rounds):
            order = args.modes if r % 2 == 0 else list(reversed(args.modes))
            print(f"\nround {r}: {' > '.join(order)}", flush=True)
            row: dict[str, Any] = {"round": r, "order": order}
            for mode in order:
                row[mode] = run_mode(mode, args, project_id, users, statements, servers, admin)
            rounds.append(row)
        reset(admin, project_id)
        summary = summarise(rounds, args)
        print_summary(summary)
        out = results_path("claim", stamp, args.smoke)
        out.write_bytes(orjson.dumps({"environment": env_info, "args": vars(args), "rounds": rounds,
                                      "summary": summary, "explain": plan,
                                      "loupe_claim_sql": statements[users[0][0]][0]},
                                     option=orjson.OPT_INDENT_2))
        print(f"results: {out.relative_to(ROOT)}")
        return 0 if summary["doubles"] == 0 else 1
    except BenchFailure as exc:
        logs = "\n".join(f"--- server :{s.port} log tail ---\n{_tail(s.log)}" for s in servers)
        raise BenchFailure(f"{exc}\n{logs}" if servers else str(exc)) from None
    finally:
        if admin is not None:
            admin.close()
        stop_servers(servers)
        shutil.rmtree(tmp, ignore_errors=True)


def summarise(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    def med(mode: str, loop: str, key: str) -> float | None:
        values = [r[mode][loop][key] for r in rounds if mode in r]
        return round(statistics.median(values), 2) if values else None

    table: dict[str, Any] = {}
    for mode in args.modes:
        table[mode] = {loop: {k: med(mode, loop, k) for k in
                              ("claims_per_s", "claim_p50_ms", "claim_p99_ms", "submit_p50_ms", "submit_p99_ms")}
                       for loop in ("closed", "open")}
    raw = table.get("raw")
    for t in table.values():
        for loop in ("closed", "open"):
            if raw:
                t[loop]["ratio_p50_to_raw"] = round(t[loop]["claim_p50_ms"] / raw[loop]["claim_p50_ms"], 2)
                t[loop]["ratio_p99_to_raw"] = round(t[loop]["claim_p99_ms"] / raw[loop]["claim_p99_ms"], 2)
                t[loop]["ratio_claims_per_s_to_raw"] = round(t[loop]["claims_per_s"] / raw[loop]["claims_per_s"], 3)
    targets: dict[str, Any] = {}
    if raw and "sql" in table:
        o = table["sql"]["open"]
        targets["sql_within_1.2x_raw_at_open_rate"] = (o["ratio_p50_to_raw"] <= TARGET_RATIO
                                                       and o["ratio_p99_to_raw"] <= TARGET_RATIO)
    if raw and "service" in table:
        o = table["service"]["open"]
        targets["service_within_1.2x_raw_at_open_rate"] = (o["ratio_p50_to_raw"] <= TARGET_RATIO
                                                           and o["ratio_p99_to_raw"] <= TARGET_RATIO)
    if "http" in table:
        o = table["http"]["open"]
        targets["http_p50_le_10ms"] = o["claim_p50_ms"] <= TARGET_HTTP_P50_MS
        targets["http_p99_le_25ms"] = o["claim_p99_ms"] <= TARGET_HTTP_P99_MS
    doubles = sum(r[m][loop]["double_claims"] for r in rounds for m in args.modes for loop in ("closed", "open"))
    return {"table": table, "targets": targets, "doubles": doubles}


def print_summary(s: dict[str, Any]) -> None:
    print("\nmedian over rounds (claim latency; closed = claim+submit cycles/s flat out, open = "
          "latency at the offered rate):")
    print(f"  {'mode':<8} {'loop':<6} {'claims/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p50/raw':>8} {'p99/raw':>8} "
          f"{'rate/raw':>8} {'submit p50':>10}")
    for mode, t in s["table"].items():
        for loop in ("closed", "open"):
            x = t[loop]
            print(f"  {mode:<8} {loop:<6} {x['claims_per_s']:>9,.1f} {x['claim_p50_ms']:>8.2f} "
                  f"{x['claim_p99_ms']:>8.2f} {x.get('ratio_p50_to_raw', 0):>7.2f}× {x.get('ratio_p99_to_raw', 0):>7.2f}× "
                  f"{x.get('ratio_claims_per_s_to_raw', 0):>7.1%} {x['submit_p50_ms']:>10.2f}")
    for name, ok in s["targets"].items():
        print(f"  target {name}: {'PASS' if ok else 'MISS'}")
    print(f"  double claims: {s['doubles']} ({'PASS' if s['doubles'] == 0 else 'FAIL'})")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailure as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        sys.exit(2)
