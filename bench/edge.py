#!/usr/bin/env python3
"""Edge client benchmark: the durable client (edge/) draining its outbox vs a raw httpx loop, same server, same run.

N prediction events, each with its own small JPEG, go to Loupe's real ASGI server (uvicorn, PostgreSQL). The
edge client queues them (SQLite outbox, fsync per event; media spool, fsync per file) and drains them: HEAD
each media, PUT the missing ones, POST batches of 500, store every result. The raw baseline posts the same
media and the same batches with a bare httpx loop that remembers nothing (no HEAD, no outbox, no fsync), one
request at a time; `raw-4` does the same with 4 concurrent PUTs, as the edge client uploads. The
`edge-head` variant asks with a HEAD before every PUT (`head_min_bytes=0`), to show what that round trip
costs when every frame is new. Frames are seeded from the clock and every upload must be a 201: a frame an
earlier run left on the server would let HEAD skip its upload and flatter the client. Each round uses fresh devices
and fresh frames; contenders alternate order between rounds; figures are medians.

Two more parts run the client as a field device (bench/edge_field.py: real `loupe-edge run` processes, the
fault proxy tests/faultproxy.py in front of the server): `lag`, capture → stored p50/p99 with 8 devices, with
and without faults on the wire; and `drain`, the time to empty a 5,000-event backlog captured during a
2-minute outage, against a raw httpx loop that retries after a fixed sleep.

    make bench-edge                   # = .venv/bin/python bench/edge.py
    .venv/bin/python bench/edge.py --events 5000 --rounds 3
    .venv/bin/python bench/edge.py --parts lag,drain   # only the field parts (~8 minutes)
    .venv/bin/python bench/edge.py --smoke   # tiny sizes, seconds: does the bench still run?

Uses (and creates if missing) a dedicated database whose name must contain "bench" (default loupe_bench_edge).
Results go to bench/results/edge-<ts>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import edge_field  # noqa: E402  (bench/ is on sys.path when a bench runs as a script)
import httpx  # noqa: E402
import ingest  # noqa: E402  (its CPU accounting: server, PostgreSQL, client, the rest of the machine)
import orjson  # noqa: E402
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

from edge.capture import capture  # noqa: E402
from edge.client import HEAD_MIN_BYTES, Uploader  # noqa: E402
from edge.device import DeviceState, http_client  # noqa: E402
from tests.faultproxy import ProxyProcess, Schedule  # noqa: E402

CAMERA = "door-1"
# The faults of the lag run, per request: the schedule of tests/edge/test_faults_through_proxy.py.
FIELD_FAULTS = Schedule(seed=17, cut=0.03, drop=0.03, delay=0.05, delay_ms=200)
FRAME = (64, 48)


def _default_database_url() -> str:
    env = os.environ.get("DATABASE_URL", "")
    if env.startswith(("postgres://", "postgresql://")) and "bench" in urlsplit(env).path:
        return env
    return "postgres://postgres@127.0.0.1:5432/loupe_bench_edge"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default=_default_database_url(),
                   help="PostgreSQL URL of a dedicated bench database (name must contain 'bench')")
    p.add_argument("--events", type=int, default=5000, help="events per contender per round (default 5000)")
    p.add_argument("--batch", type=int, default=500, help="events per POST (default 500, the server's limit)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--port", type=int, default=8640, help="server port (default 8640)")
    p.add_argument("--seed", type=int, default=None,
                   help="frame seed (default: from the clock, so no frame of an earlier run is on the server)")
    p.add_argument("--parts", type=lambda v: set(v.split(",")), default={"throughput", "lag", "drain"},
                   help="comma-separated: throughput (queued backlog, edge vs raw), lag (capture → stored, 8 "
                   "devices, with and without faults), drain (after an outage, edge vs raw); default all")
    p.add_argument("--devices", type=int, default=8, help="lag: simulated devices, each its own `run` process")
    p.add_argument("--lag-seconds", type=float, default=60.0, help="lag: seconds of capture per device")
    p.add_argument("--lag-rate", type=float, default=4.0, help="lag: events/s each device captures")
    p.add_argument("--outage-s", type=float, default=120.0, help="drain: how long the link is down")
    p.add_argument("--drain-events", type=int, default=5000, help="drain: events captured during the outage")
    p.add_argument("--raw-retry-s", type=float, default=1.0, help="drain: the raw loop's fixed sleep after an error")
    # Smoke: the lag and drain parts wait out wall-clock time (capture at a rate, an outage), so their seconds are
    # kept short: one second of capture per case, an outage of 1.5 s (still longer than the client's first probe
    # wait, edge/backoff.py PROBE_BASE, so the edge client's link-down and probe path runs as in a full run).
    args = parse_args_with_smoke(p, argv, lambda: {
        "database_url": smoke_database_url("edge"), "events": 24, "batch": 10, "rounds": 2, "port": free_ports(1),
        "devices": 2, "lag_seconds": 1.0, "lag_rate": 5.0, "outage_s": 1.5, "drain_events": 100})
    if "bench" not in urlsplit(args.database_url).path:
        p.error("the database name must contain 'bench' (this benchmark writes to it)")
    return args


def make_frames(n: int, seed: int) -> list[bytes]:
    """n distinct small JPEGs (64×48 noise), as a device's cropped low-confidence frames."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pixels = rng.integers(60, 200, size=(FRAME[1], FRAME[0], 3), dtype=np.uint8)
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        out.append(encoded.tobytes())
    return out


def make_events(prefix: str, frames: list[bytes]) -> list[dict[str, Any]]:
    events = []
    for i, frame in enumerate(frames):
        sha = hashlib.sha256(frame).hexdigest()
        boxes = [{"label": "person", "score": 0.31 + (i % 7) / 100, "box": [2.0 + 10 * k, 4.0, 9.0, 30.0],
                  "track_id": k} for k in range(1 + i % 3)]
        events.append({"id": f"{prefix}-{i:06d}", "type": "prediction", "captured_at": "2026-12-01T10:00:00.000Z",
                       "camera": CAMERA, "asset": sha, "frame_index": 0,
                       "model": {"name": "people-det", "version": "3", "sha256": "0" * 64},
                       "detections": boxes, "reason": "low_confidence"})
    return events


def new_device(label: str) -> str:
    return new_device_with_id(label)[0]


def new_device_with_id(label: str) -> tuple[str, int]:
    from annotations.models import Project
    from annotations.services import create_device

    project, _ = Project.objects.get_or_create(slug="bench-edge", defaults={"name": "Edge benchmark",
                                                                           "label_classes": ["person"]})
    issued = create_device(project=project, site_name=f"edge-{label}", camera_names=[CAMERA],
                           device_name=f"edge-{label}-{time.time_ns()}")
    return issued.token, issued.device.pk


def run_edge(url: str, token: str, events: list[dict[str, Any]], frames: list[bytes], batch: int,
             head_min_bytes: int) -> dict[str, Any]:
    """Queue through the outbox and spool (timed apart), then drain with the uploader."""
    data_dir = Path(tempfile.mkdtemp(prefix="loupe-bench-edge-"))
    try:
        state = DeviceState.open(data_dir, budget_bytes=10**9)
        start = time.perf_counter()
        for event, frame in zip(events, frames, strict=True):
            capture(outbox=state.outbox, spool=state.spool, event={k: v for k, v in event.items() if k != "asset"},
                    media=frame)
        queued = time.perf_counter()
        with http_client(url, token, timeout=120) as http:
            report = Uploader(http=http, outbox=state.outbox, spool=state.spool, batch_size=batch,
                              head_min_bytes=head_min_bytes).drain()
        drained = time.perf_counter()
        counts = state.outbox.counts()
        state.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if counts != {"pending": 0, "sent": len(events), "rejected": 0} or report.failures:
        raise BenchFailure(f"edge drain incomplete: {counts}, {report.failures} failures: {report.errors[:3]}")
    if report.media_uploaded != len(frames):  # a frame already on the server would skip its upload
        raise BenchFailure(f"edge uploaded {report.media_uploaded} new media for {len(frames)} new frames")
    return {"enqueue_s": queued - start, "drain_s": drained - queued, "events_per_s": len(events) / (drained - queued),
            "enqueue_events_per_s": len(events) / (queued - start), "media_uploaded": report.media_uploaded}


def run_raw(url: str, token: str, events: list[dict[str, Any]], frames: list[bytes], batch: int,
            workers: int = 1) -> dict[str, Any]:
    """The floor: PUT every frame (`workers` at a time), POST pre-encoded batches, check the statuses, remember
    nothing, fsync nothing."""
    bodies = [orjson.dumps({"events": events[i:i + batch]}) for i in range(0, len(events), batch)]
    shas = [e["asset"] for e in events]
    start = time.perf_counter()
    with (httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as http,
          ThreadPoolExecutor(workers) as pool):

        def put(i: int) -> None:
            r = http.put(f"/api/v1/media/{shas[i]}", content=frames[i], headers={"Content-Type": "image/jpeg"})
            if r.status_code != 201:  # 200 would mean the frame was on the server already: not a fair round
                raise BenchFailure(f"raw PUT: HTTP {r.status_code} {r.text[:300]}")

        for b, body in enumerate(bodies):
            indices = range(b * batch, min(len(events), (b + 1) * batch))
            if workers == 1:
                for i in indices:
                    put(i)
            else:
                list(pool.map(put, indices))
            r = http.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
            if r.status_code != 200 or any(x["status"] != "created" for x in orjson.loads(r.content)["results"]):
                raise BenchFailure(f"raw POST: HTTP {r.status_code} {r.text[:300]}")
    elapsed = time.perf_counter() - start
    return {"drain_s": elapsed, "events_per_s": len(events) / elapsed}


def bench_throughput(args: argparse.Namespace, url: str, stamp: str, server_pid: int) -> dict[str, Any]:
    """The drain rate of a queued backlog: the edge client against raw httpx loops, interleaved rounds."""
    contenders = ["edge", "edge-head", "raw", "raw-4"]
    rounds: list[dict[str, Any]] = []
    print(f"\n{'round':>5} {'order':<33} {'edge ev/s':>10} {'edge-head ev/s':>15} {'raw ev/s':>9} "
          f"{'raw-4 ev/s':>11} {'edge/raw':>9} {'edge/raw-4':>11} {'enqueue ev/s':>13}")
    for r in range(args.rounds):
        order = contenders if r % 2 == 0 else list(reversed(contenders))
        row: dict[str, Any] = {"round": r, "order": order}
        for k, name in enumerate(order):
            frames = make_frames(args.events, args.seed + 10 * r + k)
            events = make_events(f"{name}-{stamp}-{r}", frames)
            token = new_device(f"{name}-{r}")
            before = ingest.CpuSnapshot.take([server_pid])
            if name.startswith("raw"):
                row[name] = run_raw(url, token, events, frames, args.batch, 4 if name == "raw-4" else 1)
            else:
                row[name] = run_edge(url, token, events, frames, args.batch,
                                     0 if name == "edge-head" else HEAD_MIN_BYTES)
            # CPU ms per event: steadier than wall time when other work shares the cores (`other`).
            cpu = ingest.CpuSnapshot.take([server_pid]).minus(before)
            row[name]["cpu_ms_per_event"] = {k: round(1000 * v / args.events, 3) for k, v in cpu.items()}
        row["ratio"] = row["edge"]["events_per_s"] / row["raw"]["events_per_s"]
        row["ratio_head"] = row["edge-head"]["events_per_s"] / row["raw"]["events_per_s"]
        row["ratio_same_concurrency"] = row["edge"]["events_per_s"] / row["raw-4"]["events_per_s"]
        rounds.append(row)
        print(f"{r:>5} {'>'.join(order):<33} {row['edge']['events_per_s']:>10,.0f} "
              f"{row['edge-head']['events_per_s']:>15,.0f} {row['raw']['events_per_s']:>9,.0f} "
              f"{row['raw-4']['events_per_s']:>11,.0f} {row['ratio']:>9.1%} {row['ratio_same_concurrency']:>11.1%} "
              f"{row['edge']['enqueue_events_per_s']:>13,.0f}", flush=True)
        for name in contenders:
            c = row[name]["cpu_ms_per_event"]
            print(f"{'':>5}   CPU ms/event {name:<14} server {c['servers']:.2f}  postgres {c['postgres']:.2f}  "
                  f"client {c['client']:.2f}  other load {c['other']:.2f}  steal {c['steal']:.2f}", flush=True)
    med = {name: statistics.median(r[name]["events_per_s"] for r in rounds) for name in contenders}
    cpu_med = {name: {k: round(statistics.median(r[name]["cpu_ms_per_event"][k] for r in rounds), 3)
                      for k in ("servers", "postgres", "client", "other")} for name in contenders}
    summary = {"edge_events_per_s": round(med["edge"], 1), "edge_head_events_per_s": round(med["edge-head"], 1),
               "raw_events_per_s": round(med["raw"], 1), "ratio": round(med["edge"] / med["raw"], 3),
               "ratio_head": round(med["edge-head"] / med["raw"], 3),
               "raw_4_events_per_s": round(med["raw-4"], 1),
               "ratio_same_concurrency": round(med["edge"] / med["raw-4"], 3),
               "enqueue_events_per_s": round(statistics.median(r["edge"]["enqueue_events_per_s"] for r in rounds), 1),
               "cpu_ms_per_event": cpu_med}
    print(f"\nmedian: edge {summary['edge_events_per_s']:,.0f} ev/s (defaults: small media PUT at once), "
          f"{summary['edge_head_events_per_s']:,.0f} ev/s (a HEAD before every PUT), raw "
          f"{summary['raw_events_per_s']:,.0f} ev/s, raw with 4 concurrent PUTs {summary['raw_4_events_per_s']:,.0f} ev/s; "
          f"edge/raw {summary['ratio']:.1%} (HEAD always {summary['ratio_head']:.1%}), edge/raw-4 "
          f"{summary['ratio_same_concurrency']:.1%}; queueing (outbox + spool, fsync each) "
          f"{summary['enqueue_events_per_s']:,.0f} ev/s")
    for name in contenders:
        c = cpu_med[name]
        print(f"  CPU ms/event (median) {name:<14} server {c['servers']:.2f}  postgres {c['postgres']:.2f}  "
              f"client {c['client']:.2f}  other load {c['other']:.2f}")
    return {"rounds": rounds, "summary": summary}


def bench_field(args: argparse.Namespace, url: str, stamp: str) -> dict[str, Any]:
    """Steady-state lag with and without faults, and the drain after an outage, edge vs raw (bench/edge_field.py)."""
    port = int(urlsplit(url).port or 80)
    results: dict[str, Any] = {}
    if "lag" in args.parts:
        per_device = round(args.lag_seconds * args.lag_rate)
        lag: dict[str, Any] = {"devices": args.devices, "rate_per_device": args.lag_rate,
                               "seconds": args.lag_seconds, "schedule": repr(FIELD_FAULTS)}
        for case, schedule in (("clean", Schedule(seed=FIELD_FAULTS.seed)), ("faults", FIELD_FAULTS)):
            frames = [make_frames(per_device, args.seed + 1000 + 100 * (case == "faults") + k)
                      for k in range(args.devices)]
            devices = [new_device_with_id(f"lag-{case}-{k}") for k in range(args.devices)]
            with ProxyProcess(upstream=("127.0.0.1", port), schedule=schedule) as proxy:
                lag[case] = edge_field.run_lag(url=proxy.url, devices=devices, make_events=make_events, frames=frames,
                                               rate=args.lag_rate, prefix=f"lag-{case}-{stamp}")
                lag[case]["proxy"] = proxy.stats()
        lag["ratio_p50"] = round(lag["faults"]["p50_ms"] / lag["clean"]["p50_ms"], 2)
        lag["ratio_p99"] = round(lag["faults"]["p99_ms"] / lag["clean"]["p99_ms"], 2)
        results["lag"] = lag
        print(f"\nlag capture → stored, {args.devices} devices × {args.lag_rate:g} ev/s for {args.lag_seconds:g} s: "
              f"clean p50 {lag['clean']['p50_ms']:.0f} ms p99 {lag['clean']['p99_ms']:.0f} ms; with faults p50 "
              f"{lag['faults']['p50_ms']:.0f} ms p99 {lag['faults']['p99_ms']:.0f} ms; faults/clean p50 "
              f"{lag['ratio_p50']:.2f}× p99 {lag['ratio_p99']:.2f}×", flush=True)
    if "drain" in args.parts:
        drain: dict[str, Any] = {"events": args.drain_events, "outage_s": args.outage_s,
                                 "raw_retry_s": args.raw_retry_s}
        with ProxyProcess(upstream=("127.0.0.1", port), schedule=Schedule(seed=FIELD_FAULTS.seed)) as proxy:
            for name in ("edge", "raw"):
                frames = make_frames(args.drain_events, args.seed + 2000 + (name == "raw"))
                events = make_events(f"drain-{name}-{stamp}", frames)
                token, device_id = new_device_with_id(f"drain-{name}")
                if name == "edge":
                    drain[name] = edge_field.run_drain_edge(url=proxy.url, proxy=proxy, device=(token, device_id),
                                                            events=events, frames=frames, outage_s=args.outage_s,
                                                            prefix=f"drain-{name}-{stamp}")
                else:
                    drain[name] = edge_field.run_drain_raw(url=proxy.url, proxy=proxy, token=token, events=events,
                                                           frames=frames, outage_s=args.outage_s,
                                                           prefix=f"drain-{name}-{stamp}", batch=args.batch,
                                                           retry_s=args.raw_retry_s)
                print(f"  drain {name}: {drain[name]}", flush=True)
        drain["ratio"] = round(drain["edge"]["drain_s"] / drain["raw"]["drain_s"], 2)
        results["drain"] = drain
        print(f"drain after a {args.outage_s:g} s outage, {args.drain_events:,} events queued: edge "
              f"{drain['edge']['drain_s']:.1f} s ({drain['edge']['events_per_s']:,.0f} ev/s), raw loop (retry after a "
              f"fixed {args.raw_retry_s:g} s) {drain['raw']['drain_s']:.1f} s ({drain['raw']['events_per_s']:,.0f} "
              f"ev/s); edge/raw time {drain['ratio']:.2f}×", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ingest._PG_DBNAME = urlsplit(args.database_url).path.lstrip("/")
    if args.seed is None:
        args.seed = time.time_ns() % 10**12
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tmp = Path(tempfile.mkdtemp(prefix="loupe-bench-"))
    env = {"DATABASE_URL": args.database_url, "DJANGO_SETTINGS_MODULE": "config.settings",
           "LOUPE_VAR_DIR": str(tmp / "var"), "MEDIA_STORAGE": str(tmp / "media"),
           "LOUPE_SECRET_KEY": "bench-" + hashlib.sha256(stamp.encode()).hexdigest(), "LOUPE_DEBUG": "false",
           "LOUPE_LOG_LEVEL": "WARNING"}
    os.environ.pop("REDIS_URL", None)  # self-contained: in-memory channel layer, eager Celery
    servers: list[Server] = []
    try:
        ensure_database(args.database_url)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        start_server(uvicorn_argv(args.port), args.port, env, tmp / "uvicorn.log", servers)
        wait_healthy(servers[0])
        url = f"http://127.0.0.1:{args.port}"
        print(f"edge benchmark: {args.events:,} events/contender/round with {FRAME[0]}×{FRAME[1]} JPEGs, batches of "
              f"{args.batch}, {args.rounds} rounds, 1 uvicorn on :{args.port}, {os.cpu_count()} CPUs, "
              f"commit {_git('rev-parse', '--short', 'HEAD')}", flush=True)
        # Warm-up (untimed): one small batch each way.
        warm = make_frames(50, args.seed - 1)
        run_raw(url, new_device("warm"), make_events(f"warm-{stamp}", warm), warm, args.batch)
        results: dict[str, Any] = {}
        if "throughput" in args.parts:
            results["throughput"] = bench_throughput(args, url, stamp, servers[0].proc.pid)
        if "lag" in args.parts or "drain" in args.parts:
            results.update(bench_field(args, url, stamp))
        out = results_path("edge", stamp, args.smoke)
        environment = {"python": platform.python_version(), "cpus": os.cpu_count(), "commit": _git("rev-parse", "HEAD"),
                       "dirty": bool(_git("status", "--porcelain"))}
        out.write_bytes(orjson.dumps({"environment": environment, "args": {**vars(args), "parts": sorted(args.parts)},
                                      **results.pop("throughput", {}), **results}, option=orjson.OPT_INDENT_2))
        print(f"results: {out.relative_to(ROOT)}")
        return 0
    except BenchFailure as exc:
        logs = "\n".join(f"--- server :{s.port} log tail ---\n{_tail(s.log)}" for s in servers)
        raise BenchFailure(f"{exc}\n{logs}" if servers else str(exc)) from None
    finally:
        stop_servers(servers)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
