#!/usr/bin/env python3
"""Cluster benchmark: device ingest and the claim+submit loop straight to one uvicorn, then through HAProxy with one
web, then with two (deploy/local/cluster.py's topology, media in SeaweedFS S3).

For each target: events/s of D simulated devices (`loupe-edge simulate`, N frames each, a fresh device and seed per
target), claim+submit cycles/s of C concurrent annotators with the claim's p50/p99, and the server side's CPU
(webs, HAProxy, workers, object store) per 1,000 events. The balancer's overhead per request is the claim p50
through HAProxy with one web minus the p50 straight to that web.

    .venv/bin/python bench/cluster.py                 # 2 devices x 500 events, 4 claimers x 100 claims
    .venv/bin/python bench/cluster.py --smoke         # seconds: 1 x 40 events, 2 x 10 claims (CI-sized)

Uses a dedicated database (loupe_bench_cluster, dropped and made again as a copy of the benches' migrated template,
bench/harness.py), Redis database 13 under a key prefix of its own, free ports; results in
bench/results/cluster-<ts>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import ensure_database  # noqa: E402  (bench/, this script's folder)

from deploy.local.cluster import Cluster, Ports, Settings  # noqa: E402

SETUP = """
import json
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from annotations.services import create_device
from tests.factories import add_member, make_project
project = make_project("bench-cluster")
project.qa_sample_rate = 0.0
project.save()
tokens = {}
for target in ("direct", "lb1", "lb2"):
    devices = []
    for i in range(%(devices)d):
        devices.append(create_device(project=project, site_name=f"{target}-{i}", camera_names=["door-1"]).token)
    tokens[target] = devices
people = []
for i in range(%(claimers)d):
    people.append(Token.objects.create(user=add_member(project, f"annotator{i}", "annotator")).key)
print(json.dumps({"project": project.pk, "devices": tokens, "people": people}))
"""


def group_cpu_seconds(pgids: list[int]) -> float:
    """utime+stime of every live process in these process groups (/proc/PID/stat fields 14-15)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def set_web2(cluster: Cluster, state: str) -> None:
    """`ready` or `maint` for web2 on the balancer (its admin socket)."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(cluster.state_dir / "haproxy.sock"))
        sock.sendall(f"set server webs/web2 state {state}\n".encode())
        sock.recv(4096)


def ingest(url: str, tokens: list[str], frames: int, seed: int, work: Path) -> dict[str, float]:
    devices = [subprocess.Popen(  # noqa: S603 (our own device client)
        [sys.executable, "-m", "edge.cli", "simulate", "--server", url, "--token", token, "--frames", str(frames),
         "--seed", str(seed + i), "--batch-size", "100", "--run-id", f"b{seed}-{i}",
         "--data-dir", str(work / f"dev-{seed}-{i}")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for i, token in enumerate(tokens)]
    reports = [json.loads(device.communicate()[0].strip().splitlines()[-1]) for device in devices]
    sent = sum(r["sent"] for r in reports)
    assert sent == frames * len(tokens) and not any(r["rejected"] for r in reports), reports
    drain = max(r["drain_s"] for r in reports)
    return {"events": sent, "drain_s": drain, "events_per_s": round(sent / drain, 1)}


def claim_loop(url: str, project: int, people: list[str], per_person: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def person(token: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=30) as http:
            for _ in range(per_person):
                started = time.perf_counter()
                claimed = http.post(f"/api/v1/projects/{project}/queue/claim", json={})
                took = time.perf_counter() - started
                if claimed.status_code != 200:
                    return
                body = claimed.json()
                http.post(f"/api/v1/items/{body['id']}/submit", json={
                    "lease_token": body["lease_token"], "boxes": [{"label": "person", "box": [1, 2, 30, 60]}]})
                with lock:
                    latencies.append(took)

    started = time.perf_counter()
    threads = [threading.Thread(target=person, args=(token,)) for token in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"claims": len(latencies), "claims_per_s": round(len(latencies) / wall, 1),
            "claim_p50_ms": round(1000 * statistics.median(latencies), 2) if latencies else None,
            "claim_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2) if latencies else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--events", type=int, default=500, help="per device and target")
    parser.add_argument("--claimers", type=int, default=4)
    parser.add_argument("--claims", type=int, default=100, help="per claimer and target")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the bench runs, measures nothing")
    args = parser.parse_args()
    if args.smoke:
        args.devices, args.events, args.claimers, args.claims = 1, 40, 2, 10
    database = "postgres://postgres@127.0.0.1:5432/loupe_bench_cluster"
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS loupe_bench_cluster WITH (FORCE)")
    # A copy of the migrated template (made once per change of the migrations): no migrate of an empty database
    # here, which took longer than the smoke run's measuring.
    ensure_database(database)
    redis_url = re.sub(r"(/\d+)?$", "/13", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"), count=1)
    work = Path(tempfile.mkdtemp(prefix="loupe-bench-cluster-"))
    cluster = Cluster(work / "cluster", Ports.free(), Settings(
        database_url=database, redis_url=redis_url, prefix=f"loupe-bench-{uuid.uuid4().hex[:8]}",
        extra_env={"LOUPE_RATE_DEVICE_MEDIA": "1000000/min", "LOUPE_RATE_DEVICE_EVENTS": "1000000/min",
                   "LOUPE_RATE_CLAIM": "1000000/min"}))
    results: dict[str, dict[str, float | None]] = {}
    try:
        cluster.start_app(with_store=True)  # the store comes up while the workers and beat import Django
        cluster.start_balancer()
        setup = json.loads(cluster.manage("shell", "-c", SETUP % {"devices": args.devices,
                                                                  "claimers": args.claimers}).splitlines()[-1])
        pgids = list(cluster.recorded().values())
        for seed, (target, url) in enumerate([("direct", cluster.web_url(1)), ("lb1", cluster.url),
                                              ("lb2", cluster.url)]):
            set_web2(cluster, "ready" if target == "lb2" else "maint")
            cpu = group_cpu_seconds(pgids)
            row: dict[str, float | None] = dict(ingest(url, setup["devices"][target], args.events, seed * 1000, work))
            row["server_cpu_s_per_1000_events"] = round(
                (group_cpu_seconds(pgids) - cpu) * 1000 / float(row["events"] or 1), 2)
            row.update(claim_loop(url, setup["project"], setup["people"], args.claims))
            results[target] = row
            print(f"{target:>6}: {json.dumps(row)}", flush=True)
    finally:
        cluster.stop(wait=5)
    if results["direct"]["claim_p50_ms"] is not None and results["lb1"]["claim_p50_ms"] is not None:
        overhead = round(float(results["lb1"]["claim_p50_ms"]) - float(results["direct"]["claim_p50_ms"]), 2)
        print(f"balancer overhead per request (claim p50, lb1 - direct): {overhead} ms")
        results["lb_overhead_ms"] = {"claim_p50": overhead}
    out = ROOT / "bench" / "results" / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "results": results}, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
