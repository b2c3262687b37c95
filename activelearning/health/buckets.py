"""Telemetry samples into fixed time buckets, for charts (framework-free; docs/health.md).

Gauges (latency, fps, temperature, memory, disk, outbox) are averaged over a bucket's samples. Counters
(`dropped_frames`, `crashes`, `watchdog_restarts`: totals since install, as the device reports them) become the
increase during the bucket: the sum of the steps between consecutive samples, starting from the last sample
before the range. A counter that goes down was reset (reinstall, wiped state): its new value is the increase.
A bucket without samples is null in every series, so a chart shows the gap instead of drawing across it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

GAUGES = ("inference_ms_p50", "inference_ms_p95", "fps", "inference_fps", "temperature_c", "memory_used_bytes",
          "disk_free_bytes", "outbox_depth", "outbox_oldest_age_seconds")
COUNTERS = ("dropped_frames", "crashes", "watchdog_restarts")
FIGURES = GAUGES + COUNTERS

# Bucket names a client may ask for, in seconds.
BUCKETS = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "6h": 21600, "1d": 86400}
# A chart is a few hundred pixels wide: more points than this only costs bytes.
MAX_POINTS = 500

Sample = tuple[datetime, dict[str, float | int | None]]


def bucket_count(since: datetime, until: datetime, seconds: int) -> int:
    """How many buckets of `seconds` cover [since, until) when the first starts at `since` floored to the grid."""
    start = _floor(since.timestamp(), seconds)
    return max(1, math.ceil((until.timestamp() - start) / seconds))


def auto_bucket(since: datetime, until: datetime) -> str:
    """The finest bucket that keeps the range within MAX_POINTS (the coarsest when none does)."""
    for name, seconds in BUCKETS.items():
        if bucket_count(since, until, seconds) <= MAX_POINTS:
            return name
    return "1d"


def _floor(epoch: float, seconds: int) -> int:
    # Buckets align to the UTC epoch grid, so two requests for overlapping ranges agree on their edges.
    return int(epoch // seconds) * seconds


def bucketize(samples: Sequence[Sample], *, since: datetime, until: datetime, seconds: int,
              baseline: dict[str, float | int | None] | None = None) -> dict[str, list[float | int | None]]:
    """Columnar series, one entry per bucket: `t` (bucket start, epoch seconds), `samples` (how many fell in
    it), then each figure. `samples` must be in time order within [since, until); `baseline` is the last
    sample before `since` (the counters' starting point)."""
    start = _floor(since.timestamp(), seconds)
    n = bucket_count(since, until, seconds)
    sums: dict[str, list[float]] = {name: [0.0] * n for name in GAUGES}
    counts: dict[str, list[int]] = {name: [0] * n for name in GAUGES}
    increases: dict[str, list[int | None]] = {name: [None] * n for name in COUNTERS}
    per_bucket = [0] * n
    previous = {name: (baseline or {}).get(name) for name in COUNTERS}
    for at, figures in samples:
        index = min(n - 1, max(0, int((at.timestamp() - start) // seconds)))
        per_bucket[index] += 1
        for name in GAUGES:
            value = figures.get(name)
            if value is not None:
                sums[name][index] += float(value)
                counts[name][index] += 1
        for name in COUNTERS:
            value = figures.get(name)
            if value is None:
                continue
            before = previous[name]
            step = 0 if before is None else (int(value) - int(before) if value >= before else int(value))
            increases[name][index] = (increases[name][index] or 0) + step
            previous[name] = value
    series: dict[str, list[float | int | None]] = {
        "t": [start + i * seconds for i in range(n)], "samples": list(per_bucket)}
    for name in GAUGES:
        series[name] = [round(sums[name][i] / counts[name][i], 3) if counts[name][i] else None for i in range(n)]
    for name in COUNTERS:
        series[name] = list(increases[name])
    return series
