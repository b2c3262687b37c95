#!/usr/bin/env python3
"""Fleet benchmark (issue 18): a fleet of devices heartbeating and polling `GET /models/current` on its
schedule, against the same server with the rollout off and against the model served from a static bucket.

Each device heartbeats once per cycle (default 2,000 devices, 4 cameras each, every 30 s, 3 cycles) at its own
offset, spread evenly over the cycle, and polls for its model half a cycle later with `If-None-Match` of the
model it runs. A few client processes (sender threads on the standard library's http.client: httpx cost
~1.8 ms of client CPU a request, which on a shared 2-core machine put the clients behind their schedule) drive
all the devices, each with its own token;
latency counts from each request's scheduled time, so a server that falls behind shows as latency and
lateness, not as fewer requests. Phases, one after another on the same seeded fleet:

  static    heartbeats to Loupe (champion only), polls to HAProxy answering one static JSON file with its
            ETag (`http-request return`): the team without per-device rollouts, models in a bucket;
  champion  heartbeats and polls to Loupe, no rollout: every device gets the champion;
  rollout   the same while a staged rollout (started through the promote API) is at its first stage:
            each heartbeat answer and poll decides per device (pin > rollout stage > champion).

The server's CPU (uvicorn processes, and the PostgreSQL backends serving them; HAProxy's for `static`) comes
from /proc, per 1,000 devices per cycle. The sweep part times `activelearning.alerts.services.sweep()` over the
seeded fleet against reading the same device and camera rows with psycopg, when that module exists.

    .venv/bin/python bench/fleet.py                               # 2,000 devices, 3 cycles of 30 s per phase
    .venv/bin/python bench/fleet.py --cycle 10 --parts heartbeat  # compressed cycles, heartbeats only
    .venv/bin/python bench/fleet.py --smoke                       # 20 devices, 2 cycles of 1 s: does it run?

Uses a database whose name must contain "bench" (default loupe_bench_fleet), made again from a migrated
template (`<name>_template`) on every run, so every run starts from the same empty fleet. Results go to
bench/results/fleet-<ts>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import platform
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPException
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
    free_ports,
    migrated_template,
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

PARTS = ("heartbeat", "poll", "sweep")
PROJECT_SLUG = "bench-fleet"
OPSET = 17
HTTP_TIMEOUT_S = 60.0
CLIENT_START_LEAD_S = 2.0
SENDERS = 32  # sender threads per kind per client process: at most this many of its requests of a kind in flight  # client processes start (imports, connections) before the first scheduled request
# A phase "kept up" when every request was answered and the last answer came within this share of a cycle
# after the last scheduled request (or 1 s, whichever is more).
KEEP_UP_TAIL_SHARE = 0.05
STAGES = [{"percent": 10, "soak_minutes": 60}, {"percent": 50, "soak_minutes": 240},
          {"percent": 100, "soak_minutes": 720}]
GATES = [{"metric": "inference_ms_p95", "comparison": "ratio", "tolerance": 0.2},
         {"metric": "crashes", "comparison": "delta", "tolerance": 0.5}]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    env = os.environ.get("DATABASE_URL", "")
    p.add_argument("--database-url", default=env if "bench_fleet" in env else
                   "postgres://postgres@127.0.0.1:5432/loupe_bench_fleet",
                   help="PostgreSQL URL of a dedicated bench database (name must contain 'bench')")
    p.add_argument("--devices", type=int, default=2000, help="simulated devices (default 2,000)")
    p.add_argument("--cameras", type=int, default=4, help="cameras per device (default 4: 8,000 cameras)")
    p.add_argument("--devices-per-site", type=int, default=10, help="devices per site (default 10)")
    p.add_argument("--cycle", type=float, default=30.0,
                   help="seconds between a device's heartbeats (default 30; smaller compresses the schedule)")
    p.add_argument("--cycles", type=int, default=3, help="measured cycles per phase (default 3)")
    p.add_argument("--clients", type=int, default=2, help="client processes driving the devices (default 2)")
    p.add_argument("--workers", type=int, default=2, help="uvicorn processes on consecutive ports (default 2)")
    p.add_argument("--port", type=int, default=8760, help="first port: uvicorn processes, then HAProxy")
    p.add_argument("--parts", default="heartbeat,poll,sweep", help="comma list of heartbeat,poll,sweep")
    p.add_argument("--sweeps", type=int, default=3, help="timed sweeps after the first (default 3)")
    p.add_argument("--profile", action="store_true",
                   help="cProfile 200 heartbeats and 200 polls in-process during the rollout (top functions)")
    p.add_argument("--show-sql", action="store_true", help="print the statements of one heartbeat and one poll")
    p.add_argument("--client-worker", action="store_true", help=argparse.SUPPRESS)  # a client process
    # Smoke: cycles of half a second (each phase waits out its cycles on the clock, three phases).
    args = parse_args_with_smoke(p, argv, lambda: {
        "database_url": smoke_database_url("fleet"), "devices": 20, "cycle": 0.5, "cycles": 2, "clients": 1,
        "workers": 1, "sweeps": 1, "port": free_ports(2)})
    if args.client_worker:
        return args
    dbname = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in dbname:
        p.error(f"refusing database {dbname!r}: the bench drops it, use a database named *bench*")
    args.parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    if unknown := set(args.parts) - set(PARTS):
        p.error(f"unknown parts {sorted(unknown)}")
    return args


# --- the client processes -------------------------------------------------------------------------------------


def heartbeat_body(device: dict[str, Any], model_sha256: str, rng: random.Random) -> bytes:
    """What a healthy device with `cameras` cameras reports (the edge client's fields, docs/rollouts.md)."""
    cameras = [{"name": name, "status": "ok" if rng.random() > 0.02 else "degraded", "fps": 15.0,
                "dropped_frames": rng.randrange(5), "inference_fps": round(rng.uniform(12, 15), 2),
                "last_frame_age_seconds": round(rng.uniform(0, 0.2), 3)} for name in device["cameras"]]
    p50 = rng.uniform(20, 30)
    return orjson.dumps({
        "software_version": "0.18.0", "model_sha256": model_sha256, "uptime_seconds": rng.randrange(10**6),
        "disk_free_bytes": 20 * 2**30, "disk_total_bytes": 64 * 2**30, "temperature_c": round(rng.uniform(40, 60), 1),
        "fps": 15.0 * len(cameras), "dropped_frames": rng.randrange(20), "outbox_depth": rng.randrange(10),
        "outbox_oldest_age_seconds": round(rng.uniform(0, 5), 2), "runtime": {"onnxruntime": "1.17.1", "opset": OPSET},
        "inference_ms_p50": round(p50, 2), "inference_ms_p95": round(p50 * 1.6, 2), "crashes": 0,
        "watchdog_restarts": 0, "inference_fps": round(14.0 * len(cameras), 1),
        "memory_used_bytes": 900 * 2**20, "memory_total_bytes": 4 * 2**30, "cameras": cameras})


def drive(config: dict[str, Any]) -> dict[str, Any]:
    """Run this process's devices on the shared schedule: a dispatcher hands each request to a pool of sender
    threads at its due time; one record per request."""
    t0 = time.perf_counter() + (config["t0_epoch"] - time.time())  # the phase's start on this process's clock
    cycle = config["cycle"]
    devices = config["devices"]
    schedule = []
    for index, device in enumerate(devices):
        for k in range(config["cycles"]):
            if "heartbeat" in config["kinds"]:
                schedule.append((t0 + k * cycle + device["offset"], "heartbeat", index))
            if "poll" in config["kinds"]:
                schedule.append((t0 + k * cycle + (device["offset"] + cycle / 2) % cycle, "poll", index))
    schedule.sort()
    running = [config["model_sha256"]] * len(devices)  # the model each device runs (what it was last told)
    records: list[tuple[str, float, float, float, int]] = []  # kind, scheduled, sent, done (s after t0), status
    errors: dict[str, int] = {}  # requests that got no answer, by exception
    # A queue and senders per kind: a device's poll never waits in this process behind another's heartbeat
    # (real devices are independent; the server's own queue is what is measured).
    work: dict[str, queue.SimpleQueue[tuple[float, str, int] | None]] = {kind: queue.SimpleQueue()
                                                                          for kind in config["kinds"]}

    def sender(kind: str, seed: int) -> None:
        rng = random.Random(seed)
        connections: dict[str, HTTPConnection] = {}  # this thread's keep-alive connection to each server

        def call(base: str, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
            for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile is opened again once
                conn = connections.get(base)
                if conn is None:
                    host, port = base.removeprefix("http://").split(":")
                    conn = connections[base] = HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT_S)
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    return response.status, response.read()
                except (ConnectionError, HTTPException):
                    conn.close()
                    del connections[base]
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        while (item := work[kind].get()) is not None:
            due, kind, index = item
            device = devices[index]
            base = config["poll_base"] if kind == "poll" and config["poll_base"] else device["server"]
            headers = {"Authorization": f"Bearer {device['token']}"}
            sent = time.perf_counter()
            try:
                if kind == "heartbeat":
                    status, body = call(base, "POST", "/api/v1/heartbeat", heartbeat_body(device, running[index], rng),
                                        {**headers, "Content-Type": "application/json"})
                    if status == 200 and (model := orjson.loads(body).get("model")):
                        running[index] = model["sha256"]  # the device installs what it is told
                else:
                    headers["If-None-Match"] = f'"{running[index]}"'
                    status, body = call(base, "GET", "/api/v1/models/current", None, headers)
                    if status == 200:
                        running[index] = orjson.loads(body)["sha256"]
            except (OSError, HTTPException) as exc:
                status = 0
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            records.append((kind, due - t0, sent - t0, time.perf_counter() - t0, status))
        for conn in connections.values():
            conn.close()

    cpu0 = time.process_time()
    threads = [threading.Thread(target=sender, args=(kind, config["seed"] * 1000 + i), daemon=True)
               for kind in config["kinds"] for i in range(config["senders"])]
    for thread in threads:
        thread.start()
    for item in schedule:
        delay = item[0] - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work[item[1]].put(item)
    for kind in config["kinds"]:
        for _ in range(config["senders"]):
            work[kind].put(None)
    for thread in threads:
        thread.join()
    return {"records": records, "client_cpu_s": time.process_time() - cpu0, "errors": errors}


def client_worker() -> int:
    config = json.loads(sys.stdin.read())
    sys.stdout.write(json.dumps(drive(config)))
    return 0


# --- CPU from /proc -------------------------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime+stime of each live process (/proc/PID/stat fields 14-15)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def backend_pids(admin: psycopg.Connection, dbname: str) -> list[int]:
    """The PostgreSQL backends connected to the bench database (the servers' pools), not this admin one."""
    rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                         [dbname]).fetchall()
    return [row[0] for row in rows]


class CpuMeter:
    """CPU seconds the given processes (and the bench database's backends) spent between start and stop.
    A backend that exits mid-phase is lost; the servers' pools keep theirs open."""

    def __init__(self, admin: psycopg.Connection, dbname: str, groups: dict[str, list[int]]) -> None:
        self.admin, self.dbname, self.groups = admin, dbname, groups

    def start(self) -> None:
        self.before = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        self.before_pg = cpu_seconds(backend_pids(self.admin, self.dbname))

    def stop(self) -> dict[str, float]:
        used = {}
        for name, pids in self.groups.items():
            after = cpu_seconds(pids)
            used[name] = sum(after[p] - self.before[name].get(p, 0.0) for p in after)
        after_pg = cpu_seconds(backend_pids(self.admin, self.dbname))
        used["postgresql"] = sum(after_pg[p] - self.before_pg.get(p, 0.0) for p in after_pg)
        return used


# --- setup ----------------------------------------------------------------------------------------------------


def fresh_database(url: str) -> None:
    """The run's database, made again from the migrated template (bench/harness.py): every run starts from the
    same empty schema, and the migrations run once per change of the migration files instead of once per run."""
    dbname = urlsplit(url).path.lstrip("/")
    template = migrated_template(url)
    admin_url = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(dbname),
                                                                        sql.Identifier(template)))


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def seed(args: argparse.Namespace) -> dict[str, Any]:
    """Project, an admin with an API token, the devices (create_device: token and cameras), champion and
    candidate models. Each device's offset in the cycle is spread evenly and shuffled across sites."""
    from django.contrib.auth.models import User
    from django.db import connections, transaction
    from rest_framework.authtoken.models import Token

    from activelearning.registry.models import ModelStatus, ModelVersion
    from annotations.models import Membership, Project, Role
    from annotations.services import create_device

    started = time.perf_counter()
    project = Project.objects.create(slug=PROJECT_SLUG, name="Fleet benchmark", label_classes=["person"])
    admin = User.objects.create_user("fleet-bench-admin", password=hashlib.sha256(b"fleet").hexdigest())
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    devices = []
    with transaction.atomic():
        for i in range(args.devices):
            cameras = [f"cam-{i:05d}-{c}" for c in range(args.cameras)]
            issued = create_device(project=project, site_name=f"site-{i // args.devices_per_site:04d}",
                                   camera_names=cameras, device_name=f"dev-{i:05d}")
            devices.append({"token": issued.token, "cameras": cameras})
    models = {}
    for n, status in ((1, ModelStatus.CHAMPION), (2, ModelStatus.CANDIDATE)):
        models[status] = ModelVersion.objects.create(
            project=project, name="people-det", version=n, file=f"models/fleet-{n}.onnx",
            sha256=hashlib.sha256(f"fleet-model-{n}".encode()).hexdigest(), size_bytes=12_000_000,
            input_width=640, input_height=640, classes=["person"], status=status, opset=OPSET)
    token = Token.objects.create(user=admin).key
    connections.close_all()
    order = list(range(args.devices))
    random.Random(18).shuffle(order)
    for slot, i in enumerate(order):
        devices[i]["offset"] = args.cycle * slot / args.devices
    print(f"  seeded {args.devices:,} devices × {args.cameras} cameras in {time.perf_counter() - started:.1f} s",
          flush=True)
    return {"project": project.pk, "admin_token": token, "devices": devices,
            "champion": models[ModelStatus.CHAMPION], "candidate": models[ModelStatus.CANDIDATE]}


HAPROXY_CFG = """global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend bucket
    bind 127.0.0.1:{port}
    http-request return status 304 hdr ETag '"{sha}"' if {{ req.hdr(if-none-match) -m str '"{sha}"' }}
    http-request return status 200 content-type application/json file {file} hdr ETag '"{sha}"' hdr Cache-Control no-cache
"""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
    if found is None:
        raise BenchFailure("the static baseline needs HAProxy: `make haproxy`")
    return found


def start_bucket(port: int, champion: Any, tmp: Path, servers: list[Server]) -> None:
    """HAProxy answering GET /api/v1/models/current with the champion's JSON from a file (304 on its ETag)."""
    from activelearning.registry.services import model_payload

    body = tmp / "model.json"
    body.write_bytes(orjson.dumps(model_payload(champion)))
    cfg = tmp / "bucket.cfg"
    cfg.write_text(HAPROXY_CFG.format(port=port, sha=champion.sha256, file=body))
    start_server([haproxy_binary(), "-db", "-f", str(cfg)], port, {}, tmp / "haproxy.log", servers)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/models/current", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if servers[-1].proc.poll() is not None:
            raise BenchFailure(f"HAProxy exited:\n{_tail(servers[-1].log)}")
        time.sleep(0.1)
    raise BenchFailure("HAProxy did not answer")


def start_rollout(port: int, fleet: dict[str, Any]) -> int:
    """Through the promote API, as an admin would: the candidate to its first stage."""
    response = httpx.post(f"http://127.0.0.1:{port}/api/v1/models/{fleet['candidate'].pk}/promote",
                          json={"to": "champion", "stages": STAGES, "gates": GATES},
                          headers={"Authorization": f"Token {fleet['admin_token']}"}, timeout=30)
    if response.status_code != 201:
        raise BenchFailure(f"promote: HTTP {response.status_code} {response.text[:300]}")
    return int(response.json()["id"])


# --- a phase --------------------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(1000 * value, 2)


def run_phase(name: str, args: argparse.Namespace, fleet: dict[str, Any], loupe: list[Server],
              kinds: list[str], poll_base: str | None, meter: CpuMeter) -> dict[str, Any]:
    """Every device heartbeats and/or polls once per cycle for `args.cycles` cycles, driven by the client
    processes on one shared clock; the server side's CPU over the whole phase."""
    per_client: list[list[dict[str, Any]]] = [[] for _ in range(args.clients)]
    for i, device in enumerate(fleet["devices"]):
        per_client[i % args.clients].append({**device, "server": f"http://127.0.0.1:{loupe[i % len(loupe)].port}"})
    t0_epoch = time.time() + CLIENT_START_LEAD_S
    procs = []
    for c, devices in enumerate(per_client):
        config = {"t0_epoch": t0_epoch, "cycle": args.cycle, "cycles": args.cycles, "kinds": kinds,
                  "poll_base": poll_base, "devices": devices, "seed": c, "senders": SENDERS,
                  "model_sha256": fleet["champion"].sha256}
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--client-worker"],  # noqa: S603
                                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(config))  # each reads all of it at once, before the shared start time
        proc.stdin.close()
        proc.stdin = None  # (written: communicate() below only collects the output)
        procs.append(proc)
    time.sleep(max(0.0, t0_epoch - time.time()))
    meter.start()
    load_before = os.getloadavg()
    outputs = [proc.communicate(timeout=args.cycle * args.cycles + 600) for proc in procs]
    cpu = meter.stop()
    load_after = os.getloadavg()
    records: list[list[Any]] = []
    client_cpu, errors = 0.0, dict[str, int]()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise BenchFailure(f"client process failed ({proc.returncode}):\n{err[-3000:]}")
        result = json.loads(out)
        records.extend(result["records"])
        client_cpu += result["client_cpu_s"]
        for name, count in result["errors"].items():
            errors[name] = errors.get(name, 0) + count

    window = args.cycle * args.cycles
    last_done = max(r[3] for r in records)
    row: dict[str, Any] = {"phase": name, "kinds": kinds, "devices": args.devices, "cycle_s": args.cycle,
                           "cycles": args.cycles, "load_avg_before": [round(x, 2) for x in load_before],
                           "load_avg_after": [round(x, 2) for x in load_after],
                           "client_cpu_s": round(client_cpu, 2), "wall_s": round(last_done, 2),
                           "client_errors": errors}
    ok_statuses = {"heartbeat": {200}, "poll": {200, 304}}
    for kind in kinds:
        mine = [r for r in records if r[0] == kind]
        failed = [r for r in mine if r[4] not in ok_statuses[kind]]
        latency = [r[3] - r[1] for r in mine]  # from the scheduled time: includes any lateness
        service = [r[3] - r[2] for r in mine]  # from the send
        lateness = [r[2] - r[1] for r in mine]
        done_in_window = sum(1 for r in mine if r[3] <= window)
        row[kind] = {
            "requests": len(mine), "failed": len(failed),
            "statuses": {str(s): sum(1 for r in mine if r[4] == s) for s in sorted({r[4] for r in mine})},
            "offered_per_s": round(args.devices / args.cycle, 2),
            "achieved_per_s": round(len(mine) / max(window, max(r[3] for r in mine)), 2),
            "answered_in_window_share": round(done_in_window / len(mine), 4),
            "p50_ms": _ms(_pct(latency, 0.5)), "p99_ms": _ms(_pct(latency, 0.99)), "max_ms": _ms(max(latency)),
            "service_p50_ms": _ms(_pct(service, 0.5)), "service_p99_ms": _ms(_pct(service, 0.99)),
            "lateness_p99_ms": _ms(_pct(lateness, 0.99)), "lateness_max_ms": _ms(max(lateness)),
        }
    tail = last_done - max(r[1] for r in records)
    row["tail_s"] = round(tail, 3)
    row["kept_up"] = (all(row[k]["failed"] == 0 for k in kinds)
                      and tail <= max(1.0, KEEP_UP_TAIL_SHARE * args.cycle))
    per = 1000 / args.devices / args.cycles  # → per 1,000 devices per cycle
    row["cpu_s"] = {k: round(v, 3) for k, v in cpu.items()}
    row["cpu_s_per_1000_devices_per_cycle"] = {k: round(v * per, 3) for k, v in cpu.items()}
    row["server_cpu_s_per_1000_devices_per_cycle"] = round(sum(v for k, v in cpu.items()) * per, 3)
    return row


def print_phase(row: dict[str, Any]) -> None:
    print(f"  {row['phase']:<8} wall {row['wall_s']:.1f} s, tail {row['tail_s']:.2f} s, "
          f"kept up: {'yes' if row['kept_up'] else 'NO'}; load {row['load_avg_before'][0]:.2f} → "
          f"{row['load_avg_after'][0]:.2f}; client CPU {row['client_cpu_s']:.1f} s", flush=True)
    for kind in row["kinds"]:
        k = row[kind]
        print(f"    {kind:<9} {k['achieved_per_s']:>8.2f}/s of {k['offered_per_s']:.2f}/s offered, "
              f"p50 {k['p50_ms']:.2f} ms p99 {k['p99_ms']:.2f} ms (max {k['max_ms']:.0f}), "
              f"from the send p50 {k['service_p50_ms']:.2f} ms p99 {k['service_p99_ms']:.2f} ms, "
              f"lateness p99 {k['lateness_p99_ms']:.1f} ms, failed {k['failed']} {k['statuses']}", flush=True)
    cpu = ", ".join(f"{name} {value:.3f}" for name, value in row["cpu_s_per_1000_devices_per_cycle"].items())
    print(f"    server CPU-s per 1,000 devices per cycle: {row['server_cpu_s_per_1000_devices_per_cycle']:.3f} "
          f"({cpu})", flush=True)


# --- in-process: query counts, profile, sweep -----------------------------------------------------------------


def query_counts(fleet: dict[str, Any], show: bool = False) -> dict[str, int]:
    """SQL statements per heartbeat and per poll of one device (the first seeded: in the rollout's first stage
    or not, by its hash), in the steady state, through Django's test client in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    device = fleet["devices"][0]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {device['token']}")
    body = heartbeat_body(device, fleet["champion"].sha256, random.Random(0))
    counts = {}
    # Steady state: the first request of a device also writes its last_seen_at (at most once a minute).
    client.post("/api/v1/heartbeat", data=body, content_type="application/json")
    client.get("/api/v1/models/current")
    with CaptureQueriesContext(connection) as heartbeat:
        assert client.post("/api/v1/heartbeat", data=body, content_type="application/json").status_code == 200
    counts["heartbeat"] = len(heartbeat.captured_queries)
    with CaptureQueriesContext(connection) as poll:
        assert client.get("/api/v1/models/current").status_code == 200
    counts["poll"] = len(poll.captured_queries)
    if show:
        for q in heartbeat.captured_queries + poll.captured_queries:
            print("     ", q["sql"][:160])
    connection.close()
    return counts


def profile(fleet: dict[str, Any]) -> str:
    import cProfile
    import io
    import pstats

    from django.db import connection
    from django.test import Client

    profiler = cProfile.Profile()
    rng = random.Random(1)
    devices = fleet["devices"][:200]
    clients = [Client(HTTP_AUTHORIZATION=f"Bearer {d['token']}") for d in devices]
    profiler.enable()
    for device, client in zip(devices, clients, strict=True):
        client.post("/api/v1/heartbeat", data=heartbeat_body(device, fleet["champion"].sha256, rng),
                    content_type="application/json")
        client.get("/api/v1/models/current")
    profiler.disable()
    connection.close()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)  # where the CPU itself goes
    return out.getvalue()


def sweep_part(args: argparse.Namespace) -> dict[str, Any] | None:
    """Time the alert sweep (activelearning.alerts.services.sweep) over the seeded fleet, against reading the
    rows it must look at with psycopg; None when this tree has no sweep yet."""
    # This tree's file, not the import system's answer: an editable install in a shared venv resolves a
    # subpackage missing here from the checkout it was installed from, whose migrations this database lacks.
    if not (ROOT / "activelearning" / "alerts" / "services.py").is_file():
        print("sweep: not available on this tree", flush=True)
        return None
    services = importlib.import_module("activelearning.alerts.services")
    from django.db import connection

    def timed(fn: Any) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    first = timed(services.sweep)
    again = [timed(services.sweep) for _ in range(args.sweeps)]
    connection.close()

    with psycopg.connect(args.database_url) as conn:  # connected once, as the sweep's own connection is

        def read_rows() -> None:
            conn.execute("SELECT d.id, d.site_id, d.last_seen_at, d.revoked_at, d.disk_free_bytes, "
                         "d.disk_total_bytes, d.outbox_oldest_age_seconds, d.temperature_c "
                         "FROM annotations_device d").fetchall()
            conn.execute("SELECT c.id, c.device_id, c.status, c.last_seen_at FROM annotations_camera c").fetchall()

        read_rows()  # warm
        raw = statistics.median(timed(read_rows) for _ in range(max(3, args.sweeps)))
    median = statistics.median(again)
    result = {"devices": args.devices, "cameras": args.devices * args.cameras, "first_s": round(first, 4),
              "median_s": round(median, 4), "runs": [round(x, 4) for x in again], "raw_read_s": round(raw, 4),
              "sweep_over_raw": round(median / raw, 1)}
    print(f"sweep over {args.devices:,} devices and {args.devices * args.cameras:,} cameras: first "
          f"{first * 1000:.1f} ms, then median {median * 1000:.1f} ms; psycopg read of the same rows "
          f"{raw * 1000:.1f} ms; sweep/read {median / raw:.1f}×", flush=True)
    return result


# --- main -----------------------------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 2)


def summarise(phases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    champion, rollout, static = phases.get("champion"), phases.get("rollout"), phases.get("static")
    if champion and rollout and "heartbeat" in rollout["kinds"]:
        h, c = rollout["heartbeat"], champion["heartbeat"]
        out["heartbeat_rollout_over_champion"] = {
            "p50": ratio(h["p50_ms"], c["p50_ms"]), "p99": ratio(h["p99_ms"], c["p99_ms"]),
            "server_cpu": ratio(rollout["server_cpu_s_per_1000_devices_per_cycle"],
                                champion["server_cpu_s_per_1000_devices_per_cycle"])}
        print(f"heartbeat: rollout/champion p50 {out['heartbeat_rollout_over_champion']['p50']}× "
              f"p99 {out['heartbeat_rollout_over_champion']['p99']}×, server CPU "
              f"{out['heartbeat_rollout_over_champion']['server_cpu']}×")
    if rollout and static and "poll" in rollout["kinds"]:
        p, s = rollout["poll"], static["poll"]
        out["poll_loupe_over_static"] = {"p50": ratio(p["p50_ms"], s["p50_ms"]), "p99": ratio(p["p99_ms"], s["p99_ms"])}
        print(f"poll: Loupe (rollout) p50 {p['p50_ms']:.2f} ms p99 {p['p99_ms']:.2f} ms; static bucket "
              f"p50 {s['p50_ms']:.2f} ms p99 {s['p99_ms']:.2f} ms; Loupe/static p50 "
              f"{out['poll_loupe_over_static']['p50']}× p99 {out['poll_loupe_over_static']['p99']}×")
    if champion and rollout and "poll" in rollout["kinds"]:
        p, c = rollout["poll"], champion["poll"]
        out["poll_rollout_over_champion"] = {"p50": ratio(p["p50_ms"], c["p50_ms"]),
                                             "p99": ratio(p["p99_ms"], c["p99_ms"])}
    if static and rollout:
        out["server_cpu_rollout_over_static"] = ratio(rollout["server_cpu_s_per_1000_devices_per_cycle"],
                                                      static["server_cpu_s_per_1000_devices_per_cycle"])
        print(f"server CPU-s per 1,000 devices per cycle: static {static['server_cpu_s_per_1000_devices_per_cycle']}"
              f", champion {champion['server_cpu_s_per_1000_devices_per_cycle'] if champion else '-'}, rollout "
              f"{rollout['server_cpu_s_per_1000_devices_per_cycle']}; rollout/static "
              f"{out['server_cpu_rollout_over_static']}×")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client_worker:
        return client_worker()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tmp = Path(tempfile.mkdtemp(prefix="loupe-bench-fleet-"))
    dbname = urlsplit(args.database_url).path.lstrip("/")
    env = {
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOUPE_VAR_DIR": str(tmp / "var"),
        "MEDIA_STORAGE": str(tmp / "media"),
        "LOUPE_SECRET_KEY": "bench-" + hashlib.sha256(stamp.encode()).hexdigest(),
        "LOUPE_DEBUG": "false",
        "LOUPE_LOG_LEVEL": "WARNING",
        # With Redis (as deployed), throttles and the cache live there under this run's own prefixes.
        "LOUPE_CACHE_KEY_PREFIX": f"fleet-bench-{stamp}", "LOUPE_CHANNELS_PREFIX": f"fleet-bench-{stamp}",
        "LOUPE_CELERY_KEY_PREFIX": f"fleet-bench-{stamp}",
    }
    servers: list[Server] = []
    admin: psycopg.Connection | None = None
    phases: dict[str, dict[str, Any]] = {}
    try:
        fresh_database(args.database_url)
        django_setup(env)
        admin = psycopg.connect(psycopg.conninfo.make_conninfo(args.database_url), autocommit=True)
        environment = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": _git("rev-parse", "--short", "HEAD"),
            "cpu_count": os.cpu_count(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(), "python": platform.python_version(),
            "redis": "yes" if os.environ.get("REDIS_URL") else "no (in-process cache)",
        }
        print("Loupe fleet benchmark")
        for key, value in {**environment, **{k: v for k, v in vars(args).items() if k != "database_url"}}.items():
            print(f"  {key:<18} {value}")
        fleet = seed(args)
        queries = query_counts(fleet, args.show_sql)
        print(f"  SQL statements: heartbeat {queries['heartbeat']}, poll {queries['poll']} (champion only)")
        kinds = [k for k in ("heartbeat", "poll") if k in args.parts]
        if kinds:
            for w in range(args.workers):
                start_server(uvicorn_argv(args.port + w), args.port + w, env, tmp / f"uvicorn-{w}.log", servers)
            for server in servers:
                wait_healthy(server)
            bucket_port = args.port + args.workers
            if "poll" in kinds:
                start_bucket(bucket_port, fleet["champion"], tmp, servers)
            groups = {"uvicorn": [s.proc.pid for s in servers if s.port != bucket_port]}
            if "poll" in kinds:
                groups["haproxy"] = [servers[-1].proc.pid]
            meter = CpuMeter(admin, dbname, groups)
            print(f"  servers            {', '.join(f'pid {s.proc.pid} on :{s.port}' for s in servers)}")
            print(f"\nphases ({args.devices:,} devices, {args.cycles} cycles of {args.cycle:g} s each):", flush=True)
            order = (["static"] if "poll" in kinds else []) + ["champion", "rollout"]
            for name in order:
                if name == "rollout":
                    rollout_id = start_rollout(args.port, fleet)
                    print(f"  rollout {rollout_id} started (stage 1: {STAGES[0]['percent']} % of devices)")
                    queries_rollout = query_counts(fleet, args.show_sql)
                    print(f"  SQL statements: heartbeat {queries_rollout['heartbeat']}, poll "
                          f"{queries_rollout['poll']} (during the rollout)")
                    queries = {**queries, **{f"{k}_rollout": v for k, v in queries_rollout.items()}}
                poll_base = f"http://127.0.0.1:{bucket_port}" if name == "static" else None
                phases[name] = run_phase(name, args, fleet, servers[:args.workers], kinds, poll_base, meter)
                print_phase(phases[name])
            if args.profile:
                print("\ncProfile of 200 heartbeats + 200 polls in-process (during the rollout):")
                print(profile(fleet))
        print()
        summary = summarise(phases)
        out = results_path("fleet", stamp, args.smoke)
        report = {"environment": environment, "args": vars(args), "queries": queries, "phases": phases,
                  "summary": summary, "sweep": None}
        out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))  # kept if the sweep fails
        if "sweep" in args.parts:
            report["sweep"] = sweep_part(args)
            out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(f"results: {out.relative_to(ROOT)}")
        return 0
    except BenchFailure as exc:
        logs = "\n".join(f"--- server :{s.port} log tail ---\n{_tail(s.log)}" for s in servers)
        raise BenchFailure(f"{exc}\n{logs}" if servers else str(exc)) from None
    finally:
        if admin is not None:
            admin.close()
        stop_servers(servers)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailure as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        sys.exit(2)
