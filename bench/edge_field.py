"""The edge client as a field device sees it (bench/edge.py's `lag` and `drain` parts): real `loupe-edge run`
processes, capture in this process into their data folders, the fault proxy (tests/faultproxy.py, its own
process) between them and the server.

- Lag: `devices` devices each capture `rate` events/s for `seconds`; per event, the time from capture (the
  event's `captured_at`, this machine's clock) to stored (the server's `received_at`, the same clock: server
  and bench share the machine) — p50 and p99, with and without faults on the wire.
- Drain after an outage: the proxy refuses every connection for `outage_s` while `events` are captured (the
  backlog fills from the capture side); from the moment the link is back, how long until every event is
  stored. The edge client against the loop a user would write: an in-memory queue, PUT each frame and POST
  the batch, and on any error sleep a fixed interval and try the batch again.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from harness import ROOT, BenchFailure

from edge.capture import capture
from edge.device import DeviceState
from tests.faultproxy import ProxyProcess

POLL_S = 0.1  # how often the bench looks at the database for stored events (the figures' resolution)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stored_count(prefix: str) -> int:
    from annotations.models import Prediction

    return Prediction.objects.filter(event_id__startswith=prefix).count()


def wait_stored(prefix: str, n: int, timeout_s: float) -> float:
    """Poll until `n` events with this id prefix are stored; the monotonic time it happened."""
    deadline = time.monotonic() + timeout_s
    while (count := stored_count(prefix)) < n:
        if time.monotonic() > deadline:
            raise BenchFailure(f"only {count} of {n} events {prefix}* stored within {timeout_s:.0f} s")
        time.sleep(POLL_S)
    return time.monotonic()


def wait_heartbeat(device_ids: list[int], timeout_s: float = 120) -> None:
    """Until every device's `run` process has reported once: it is up, its data folder opened."""
    from annotations.models import Device

    deadline = time.monotonic() + timeout_s
    while Device.objects.filter(pk__in=device_ids, outbox_depth__isnull=False).count() < len(device_ids):
        if time.monotonic() > deadline:
            raise BenchFailure("the edge clients did not send their first heartbeat")
        time.sleep(POLL_S)


class EdgeDevice:
    """One simulated device: a data folder, a `loupe-edge run` process draining it, capture from this process."""

    def __init__(self, *, url: str, token: str, device_id: int, root: Path, label: str) -> None:
        self.data_dir = root / label
        self.token_file = root / f"{label}.token"
        self.token_file.write_text(token)
        self.device_id = device_id
        self.url = url
        self.log = root / f"{label}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeDevice:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603  (fixed argv: our own CLI)
                [sys.executable, "-m", "edge.cli", "run", "--server", self.url, "--token-file", str(self.token_file),
                 "--data-dir", str(self.data_dir), "--camera", "door-1"], cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def capture_at_rate(*, data_dir: Path | None, sink: Callable[[dict[str, Any], bytes], None] | None,
                    events: list[dict[str, Any]], frames: list[bytes], rate: float) -> None:
    """Capture `events` at `rate` per second (on a fixed timetable, so a slow capture does not slow the rate),
    stamping each with the capture time; into a device's data folder, or handed to `sink` (the raw loop)."""
    state = DeviceState.open(data_dir, budget_bytes=10**9) if data_dir is not None else None
    start = time.monotonic()
    try:
        for i, (event, frame) in enumerate(zip(events, frames, strict=True)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            stamped = {**{k: v for k, v in event.items() if k != "asset"}, "captured_at": now_iso()}
            if state is not None:
                capture(outbox=state.outbox, spool=state.spool, event=stamped, media=frame)
            else:
                assert sink is not None
                sink({**stamped, "asset": event["asset"]}, frame)
    finally:
        if state is not None:
            state.close()


def lag_figures(prefix: str) -> dict[str, float]:
    from annotations.models import Prediction

    lags = [(received - captured).total_seconds() * 1000 for captured, received in
            Prediction.objects.filter(event_id__startswith=prefix).values_list("captured_at", "received_at")]
    return {"events": len(lags), "p50_ms": round(percentile(lags, 0.50), 1),
            "p99_ms": round(percentile(lags, 0.99), 1), "mean_ms": round(statistics.fmean(lags), 1),
            "max_ms": round(max(lags), 1)}


def run_lag(*, url: str, devices: list[tuple[str, int]], make_events: Callable[[str, list[bytes]], list[dict[str, Any]]],
            frames: list[list[bytes]], rate: float, prefix: str) -> dict[str, Any]:
    """Steady state: every device captures at `rate`/s while its `run` process drains; lag per event."""
    root = Path(tempfile.mkdtemp(prefix="loupe-bench-lag-"))
    fleet = [EdgeDevice(url=url, token=token, device_id=device_id, root=root, label=f"d{k}")
             for k, (token, device_id) in enumerate(devices)]
    try:
        for device in fleet:
            device.start()
        wait_heartbeat([d.device_id for d in fleet])
        per_device = [make_events(f"{prefix}-d{k}", frames[k]) for k in range(len(fleet))]
        threads = [threading.Thread(target=capture_at_rate, kwargs={
            "data_dir": device.data_dir, "sink": None, "events": per_device[k], "frames": frames[k], "rate": rate})
            for k, device in enumerate(fleet)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = sum(len(e) for e in per_device)
        wait_stored(f"{prefix}-", total, timeout_s=600)
        return lag_figures(f"{prefix}-")
    finally:
        for device in fleet:
            device.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_drain_edge(*, url: str, proxy: ProxyProcess, device: tuple[str, int], events: list[dict[str, Any]],
                   frames: list[bytes], outage_s: float, prefix: str) -> dict[str, Any]:
    """The edge client: the outage starts, `events` are captured during it, then the link is back."""
    root = Path(tempfile.mkdtemp(prefix="loupe-bench-drain-"))
    client = EdgeDevice(url=url, token=device[0], device_id=device[1], root=root, label="edge")
    try:
        client.start()
        wait_heartbeat([client.device_id])
        return _outage_then_drain(proxy, outage_s, prefix, events, lambda: capture_at_rate(
            data_dir=client.data_dir, sink=None, events=events, frames=frames, rate=len(events) / (0.9 * outage_s)))
    finally:
        client.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_drain_raw(*, url: str, proxy: ProxyProcess, token: str, events: list[dict[str, Any]], frames: list[bytes], outage_s: float,
                  prefix: str, batch: int, retry_s: float) -> dict[str, Any]:
    """The loop a user would write: queue in memory, PUT each frame then POST the batch; on any error, sleep
    `retry_s` and send the same batch again."""
    queue: list[tuple[dict[str, Any], bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors = [0]

    def sender() -> None:
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            while not stop.is_set():
                with lock:
                    pending = queue[:batch]
                if not pending:
                    time.sleep(POLL_S)
                    continue
                try:
                    for event, frame in pending:
                        r = http.put(f"/api/v1/media/{event['asset']}", content=frame,
                                     headers={"Content-Type": "image/jpeg"})
                        r.raise_for_status()
                    r = http.post("/api/v1/events", content=orjson.dumps({"events": [e for e, _ in pending]}),
                                  headers={"Content-Type": "application/json"})
                    r.raise_for_status()
                except httpx.HTTPError:
                    errors[0] += 1
                    time.sleep(retry_s)
                    continue
                with lock:
                    del queue[:len(pending)]

    def sink(event: dict[str, Any], frame: bytes) -> None:
        with lock:
            queue.append((event, frame))

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        return _outage_then_drain(proxy, outage_s, prefix, events, lambda: capture_at_rate(
            data_dir=None, sink=sink, events=events, frames=frames, rate=len(events) / (0.9 * outage_s))) | {
            "failed_attempts": errors[0]}
    finally:
        stop.set()
        thread.join(timeout=60)


def _outage_then_drain(proxy: ProxyProcess, outage_s: float, prefix: str, events: list[dict[str, Any]],
                       fill: Callable[[], None]) -> dict[str, Any]:
    """Start the outage, fill the backlog during it (in ~90 % of it), and time the drain from the link's return."""
    started = time.monotonic()
    proxy.start_outage(outage_s)
    fill()
    stored_during = stored_count(prefix)
    back = started + outage_s
    time.sleep(max(0.0, back - time.monotonic()))
    done = wait_stored(prefix, len(events), timeout_s=600 + outage_s)
    drain_s = done - back
    return {"events": len(events), "outage_s": outage_s, "stored_during_outage": stored_during,
            "drain_s": round(drain_s, 2), "events_per_s": round(len(events) / max(drain_s, 1e-9), 1)}
