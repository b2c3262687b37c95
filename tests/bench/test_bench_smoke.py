"""Every benchmark in bench/ still runs: each one's smoke mode (`--smoke`: tiny sizes through the same code
path as a full run, baselines and ratios included) as a real subprocess, as `make bench-smoke` runs it.

A bench that no longer matches the code (a column added to a table it seeds with SQL, a renamed service)
fails here instead of the next time someone wants a figure. The figures themselves mean nothing at these
sizes; the tests only check that each bench finished and printed its comparison with a positive figure.
Without PostgreSQL, Chromium or a built frontend the tests skip on a laptop and fail under
REQUIRE_POSTGRES=1 or CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection

from tests.server import ROOT

SMOKE_TIMEOUT_S = 240  # a smoke run takes seconds; this only stops a hung one


@dataclass(frozen=True)
class Smoke:
    bench: str
    # The lines that carry the bench's comparison; each match's groups are figures that must be > 0.
    figures: re.Pattern[str]
    lines: int  # how many such lines a run prints
    needs_postgres: bool = True


SMOKES = [
    Smoke("ingest", re.compile(r"^  Loupe/COPY = ([\d.]+)% \(per-round median ([\d.]+)%\)", re.M), 1),
    # One line per mode and loop: claims/s, then the p50 and p99 claim latency against the raw loop's.
    Smoke("claim", re.compile(r"^  (?:raw|sql|service|http) +(?:closed|open) +([\d,.]+) +[\d.]+ +[\d.]+ +"
                              r"([\d.]+)× +([\d.]+)×", re.M), 8),
    # Loupe's COCO and YOLO exports, with and without images: peak RSS, and converter ÷ Loupe (the seconds
    # print as 0.0 at smoke sizes, the ratio is taken before rounding).
    Smoke("export", re.compile(r"^loupe (?:coco|yolo) with(?:out)? images +[\d.]+ +(\d+) +([\d.]+)×$", re.M), 4),
    # End to end against bare session.run, per intra-op thread count; NMS against the Python loop.
    Smoke("prelabel", re.compile(r"^intra-op \d+: raw ([\d.]+) ms, end to end ([\d.]+) ms.*?"
                                 r"; ([\d.]+) frames/s one stream$|^NMS 8400 candidates .*?×(\d+);", re.M),
          4, needs_postgres=False),
    # Drain rate against the raw loops; lag with and without faults; drain after an outage against the raw loop.
    Smoke("edge", re.compile(r"^median: edge ([\d,]+) ev/s .*?; edge/raw ([\d.]+)% .*?edge/raw-4 ([\d.]+)%"
                             r"|^lag capture → stored, .*?faults/clean p50 ([\d.]+)× p99 ([\d.]+)×$"
                             r"|^drain after .*?: edge ([\d.]+) s .*?edge/raw time ([\d.]+)×$", re.M), 3),
    # No baseline here: each figure against its target (submit → next image, drag work, bundle size).
    Smoke("frontend", re.compile(r"^(?:submit → next image presented, p50|drag among \d+ boxes: work per move, p95"
                                 r"|bundle: gzipped JS) \S* +≤ [\d.]+ +([\d.]+) +(?:PASS|MISS)", re.M), 3),
    # Straight to one web, through HAProxy with one web and with two: events/s and claims/s of each.
    Smoke("cluster", re.compile(r'^ *(?:direct|lb1|lb2): \{.*"events_per_s": ([\d.]+),.*"claims_per_s": ([\d.]+),',
                                re.M), 3),
    # Heartbeats during the rollout against champion only; the poll against the static file behind HAProxy; the
    # alert sweep against reading its rows.
    Smoke("fleet", re.compile(r"^heartbeat: rollout/champion p50 ([\d.]+)× p99 ([\d.]+)×, server CPU ([\d.]+)×$"
                              r"|^poll: Loupe \(rollout\) p50 ([\d.]+) ms p99 ([\d.]+) ms; static bucket p50 ([\d.]+) ms "
                              r"p99 ([\d.]+) ms; Loupe/static p50 ([\d.]+)× p99 ([\d.]+)×$"
                              r"|^sweep over [\d,]+ devices and [\d,]+ cameras: first ([\d.]+) ms, then median ([\d.]+) "
                              r"ms; psycopg read of the same rows ([\d.]+) ms; sweep/read ([\d.]+)×$", re.M), 3),
    # The push against Label Studio's own bulk import of the same task JSON; an annotation made there → the Loupe
    # version, by webhook and by polling, against Label Studio's own annotation create call.
    Smoke("labelstudio", re.compile(r"^push [\d,]+ tasks: Loupe ([\d,.]+) tasks/s .*?; Label Studio import ([\d,.]+) "
                                    r"tasks/s .*?; Loupe/LS ([\d.]+)×$"
                                    r"|^webhook: latency p50 ([\d.]+) ms p99 ([\d.]+) ms .*?; baseline create p50 "
                                    r"([\d.]+) ms p99 ([\d.]+) ms; latency/create p50 ([\d.]+)× p99 ([\d.]+)×$"
                                    r"|^poll: latency p50 ([\d.]+) ms p99 ([\d.]+) ms; sync round p50 ([\d.]+) ms "
                                    r"p99 ([\d.]+) ms .*?; LS create alone p50 ([\d.]+) ms p99 ([\d.]+) ms; "
                                    r"latency/create p50 ([\d.]+)× p99 ([\d.]+)×$", re.M), 3),
]


def require(condition: bool, reason: str) -> None:
    """Skip on a laptop that lacks something; fail in CI, where a skip would hide a bench nobody runs."""
    if condition:
        return
    if settings.REQUIRE_POSTGRES or os.environ.get("CI"):
        pytest.fail(f"{reason} (REQUIRE_POSTGRES/CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def figures_of(match: re.Match[str]) -> list[float]:
    return [float(group.replace(",", "")) for group in match.groups() if group is not None]


@pytest.mark.parametrize("smoke", SMOKES, ids=[s.bench for s in SMOKES])
def test_bench_runs_in_smoke_mode_and_prints_its_comparison(smoke: Smoke, request: pytest.FixtureRequest) -> None:
    extra: list[str] = []
    if smoke.needs_postgres:
        require(connection.vendor == "postgresql", "bench smoke runs need PostgreSQL: set DATABASE_URL")
    if smoke.bench == "fleet":
        require(bool(shutil.which("haproxy")) or os.access("/usr/sbin/haproxy", os.X_OK),
                "the fleet bench needs HAProxy: make haproxy")
    if smoke.bench == "frontend":
        chromium = os.environ.get("LOUPE_CHROMIUM", "/usr/bin/chromium")
        require(os.access(chromium, os.X_OK), f"the frontend bench needs Chromium at {chromium}")
        require(any((ROOT / "frontend" / "dist" / "assets").glob("*.js")),
                "the frontend bench needs a built frontend/dist: make frontend")
    if smoke.bench == "labelstudio":
        # The test session's Label Studio (the `label_studio` fixture, which fails without `make labelstudio`):
        # the bench then starts none of its own, so `make test` pays for one Label Studio start.
        server = request.getfixturevalue("label_studio")
        extra = ["--label-studio-url", server.url, "--label-studio-token", server.token]

    proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{smoke.bench}.py"), "--smoke", *extra],  # noqa: S603
                          cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True,
                          timeout=SMOKE_TIMEOUT_S, check=False)

    output = f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, output
    matches = list(smoke.figures.finditer(proc.stdout))
    assert len(matches) == smoke.lines, output
    figures = [figure for match in matches for figure in figures_of(match)]
    assert figures and all(figure > 0 for figure in figures), (figures, output)
