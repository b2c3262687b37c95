"""The edge client as a field device meets the network: real processes on PostgreSQL (uvicorn + Django, the
fault proxy, the `loupe-edge run` CLI), a seeded schedule that cuts answers after the server committed, drops
requests mid-body and delays answers, and one SIGKILL of the client mid-drain. Every event is stored exactly
once, every frame once under its true hash, the outbox ends empty with nothing rejected, the server never
answered 5xx, and the backlog drains within a bound derived from the schedule and the client's own policy.

LOUPE_EDGE_FAULT_EVENTS sets the backlog (default 2,000, the figure of issue 17).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from annotations.models import Asset, Prediction
from edge.backoff import PROBE_BASE, PROBE_CAP, Backoff
from edge.client import Uploader
from edge.outbox import Outbox
from tests.edge.test_real_server import queue_events
from tests.factories import make_device_kit
from tests.faultproxy import ProxyProcess, Schedule
from tests.server import ROOT, LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

N = int(os.environ.get("LOUPE_EDGE_FAULT_EVENTS", "2000"))
BATCH = 100  # events per POST: 20 batches for 2,000, so a kill and a cut POST land mid-drain, not on the only batch
# Per request: 3 % cut after the server answered, 3 % dropped mid-body, 5 % answered 200 ms late.
SCHEDULE = Schedule(seed=17, cut=0.03, drop=0.03, delay=0.05, delay_ms=200)
# The chance that the slowest event of the run needs more retries than the bound allows for.
TAIL_RISK = 1e-3


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge.cli", *args]


def _run(server_url: str, data_dir: Path, token_file: Path) -> subprocess.Popen[bytes]:
    """`loupe-edge run --once`, its log appended to data_dir.log (a file: a pipe nobody reads would fill up and
    stall the client)."""
    with data_dir.with_suffix(".log").open("ab") as log:
        return subprocess.Popen(  # noqa: S603  (fixed argv: our own CLI)
            _cli("run", "--server", server_url, "--token-file", str(token_file), "--data-dir", str(data_dir),
                 "--camera", "door-1", "--batch-size", str(BATCH), "--once"),
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)


def _log(data_dir: Path) -> str:
    return data_dir.with_suffix(".log").read_text(errors="replace")[-3000:]


def _status(data_dir: Path) -> dict[str, int]:
    out = subprocess.run(_cli("status", "--data-dir", str(data_dir)), cwd=ROOT, capture_output=True,  # noqa: S603
                         check=True, timeout=60).stdout
    return dict(json.loads(out))


@dataclass
class DrainBound:
    """How long the backlog may take through the proxy, from figures measured in this run, the schedule and
    the client's own retry policy (edge/backoff.py), each term named so a failure says which assumption broke."""

    startup_s: float  # one client process: interpreter, imports, opening the data folder
    healthy_rate: float  # events/s of the same client against the same server without the proxy
    work_s: float  # n / healthy rate, made longer by every request made again after a drop or cut
    delays_s: float  # the delayed answers, spread over the client's concurrent uploads
    restart_s: float  # two process starts, and at most one batch sent again after the kill
    link_down_s: float  # each dropped or cut request takes the link down until a probe is answered
    tail_s: float  # bad luck: one event failing `tail_retries` times in a row, probes backing off
    tail_retries: int

    @property
    def total_s(self) -> float:
        return self.work_s + self.delays_s + self.restart_s + self.link_down_s + self.tail_s

    @classmethod
    def derive(cls, *, n: int, startup_s: float, healthy_rate: float, schedule: Schedule) -> DrainBound:
        failing = schedule.failing_fraction
        workers = inspect.signature(Uploader).parameters["upload_workers"].default
        # Each frame is one PUT (and one batch's POST): a request fails with chance `failing`, so the expected
        # tries per request are 1 / (1 − failing).
        work_s = n / healthy_rate / (1 - failing)
        delays_s = n * schedule.delay * schedule.delay_ms / 1000 / workers
        restart_s = 2 * startup_s + BATCH / healthy_rate
        # A dropped or cut request puts the link down (and ends its batch's attempt): nothing is sent until a
        # probe is answered, the i-th probe due at most probes.delay(i) later, and a probe is itself dropped or
        # cut with chance `failing`. Requests: a PUT per frame and a POST per batch, each failing
        # failing / (1 − failing) times on average.
        probes = Backoff(base=PROBE_BASE, cap=PROBE_CAP, random=lambda: 1.0)
        per_episode = sum(failing ** (i - 1) * probes.delay(i) for i in range(1, 30))
        failed_requests = (n + math.ceil(n / BATCH)) * failing / (1 - failing)
        link_down_s = failed_requests * per_episode
        # The tail: no request should fail more than k times in a row, k the least with n · failing^k below
        # TAIL_RISK; those k failures cost the probe waits 1..k on top of the mean above.
        k = math.ceil(math.log(TAIL_RISK / n) / math.log(failing))
        tail_s = sum(probes.delay(i) for i in range(1, k + 1))
        return cls(startup_s, healthy_rate, work_s, delays_s, restart_s, link_down_s, tail_s, k)


def test_2000_events_through_faults_and_a_kill_are_stored_exactly_once_and_drain_in_bound(
        postgres, _media_root, tmp_path):
    kit = make_device_kit()
    calibration = make_device_kit(kit.project, site="Bench St")
    data_dir, calibration_dir = tmp_path / "device", tmp_path / "calibration"
    ids = queue_events(data_dir, N)
    calibration_n = max(100, N // 10)
    warm_n = BATCH // 5
    queue_events(calibration_dir, warm_n, start=N)  # other frames than the device's: none is on the server yet
    shas = {hashlib.sha256((Path(data_dir / "spool" / name)).read_bytes()).hexdigest()
            for name in os.listdir(data_dir / "spool") if len(name) == 64}
    assert len(shas) == N
    token_file, calibration_token = tmp_path / "token", tmp_path / "calibration-token"
    token_file.write_text(kit.token)
    calibration_token.write_text(calibration.token)

    # The server's own per-device limits would answer 429 past 3,000 frames a minute; the test is about faults.
    with LiveServer(_media_root, env={"LOUPE_RATE_DEVICE_MEDIA": "1000000/min",
                                      "LOUPE_RATE_DEVICE_EVENTS": "1000000/min"}) as server:
        # Calibration on this machine, now: a process start, and the healthy rate without the proxy, once the
        # server is warm (its first requests import views and open connections).
        warm = _run(server.url, calibration_dir, calibration_token)
        assert warm.wait(timeout=300) == 0, _log(calibration_dir)
        queue_events(calibration_dir, calibration_n, start=N + warm_n)
        started = time.monotonic()
        _status(calibration_dir)
        startup_s = time.monotonic() - started
        started = time.monotonic()
        healthy = _run(server.url, calibration_dir, calibration_token)
        assert healthy.wait(timeout=300) == 0, _log(calibration_dir)
        healthy_rate = calibration_n / max(time.monotonic() - started - startup_s, 1e-3)
        bound = DrainBound.derive(n=N, startup_s=startup_s, healthy_rate=healthy_rate, schedule=SCHEDULE)

        print(f"\nbound {bound.total_s:.1f} s: {bound}")
        with ProxyProcess(upstream=("127.0.0.1", server.port), schedule=SCHEDULE) as proxy:
            started = time.monotonic()
            deadline = started + bound.total_s
            client = _run(proxy.url, data_dir, token_file)
            # Kill it as a power cut would once a third is stored (bounded wait: the drain's own bound).
            while (stored := Prediction.objects.filter(device=kit.device).count()) < N // 3:
                assert client.poll() is None, _log(data_dir)
                if time.monotonic() > deadline:
                    client.kill()
                    pytest.fail(f"{stored} of {N} events stored within {bound.total_s:.1f} s: {bound}; proxy "
                                f"{proxy.stats()}; client log: {_log(data_dir)}")
                time.sleep(0.05)
            os.kill(client.pid, signal.SIGKILL)
            client.wait(timeout=10)
            assert _status(data_dir)["pending"] > 0, "the kill came after the drain: nothing was interrupted"
            again = _run(proxy.url, data_dir, token_file)
            try:
                again.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                again.kill()
                again.wait(timeout=10)
                pytest.fail(f"the backlog did not drain within {bound.total_s:.1f} s: {bound}; "
                            f"status {_status(data_dir)}, proxy {proxy.stats()}; client log: {_log(data_dir)}")
            drain_s = time.monotonic() - started
            assert again.returncode == 0, _log(data_dir)
            stats = proxy.stats()

    print(f"\n{N} events through faults drained in {drain_s:.1f} s (bound {bound.total_s:.1f} s: {bound}); "
          f"proxy {stats}")
    assert drain_s <= bound.total_s
    assert stats["server_errors"] == 0, stats  # no 5xx, counted on the wire
    assert stats["actions"]["cut"] > 0 and stats["actions"]["drop"] > 0  # the schedule really struck
    status = _status(data_dir)
    assert (status["pending"], status["sent"], status["rejected"]) == (0, N, 0)
    with Outbox(data_dir / "outbox.sqlite3") as outbox:
        assert outbox.counts() == {"pending": 0, "sent": N, "rejected": 0}

    stored = list(Prediction.objects.filter(device=kit.device).values_list("event_id", "asset__sha256"))
    assert len(stored) == N and sorted(event_id for event_id, _ in stored) == sorted(ids)  # each exactly once
    assert {sha for _, sha in stored} == shas
    assets = Asset.objects.filter(sha256__in=shas)
    assert assets.count() == N  # every frame stored once (sha256 is unique)
    for asset in assets:
        with asset.file.open("rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == asset.sha256
