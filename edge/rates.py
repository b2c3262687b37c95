"""Rolling figures for the heartbeat: events per second over a recent window, and latency percentiles.

Pure and thread-safe (the camera and inference threads record, the heartbeat reads). A heartbeat every minute
wants what is happening now, not an average since boot: rates count the last `window` seconds, percentiles the
last `size` samples.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class RateMeter:
    """Events per second over the last `window` seconds."""

    def __init__(self, window: float = 10.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()
        self.started_at = clock()

    def tick(self) -> None:
        with self._lock:
            now = self.clock()
            self._times.append(now)
            self._forget(now)

    def _forget(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()

    def rate(self) -> float:
        """Per second; a meter younger than its window divides by its age (a fresh camera is not 'slow')."""
        with self._lock:
            now = self.clock()
            self._forget(now)
            span = min(self.window, now - self.started_at)
            return round(len(self._times) / span, 2) if span > 0 else 0.0


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of a non-empty list: always one of the values measured."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class Latencies:
    """The last `size` latencies in milliseconds, and their p50/p95."""

    def __init__(self, size: int = 512) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, ms: float) -> None:
        with self._lock:
            self._values.append(ms)

    def summary(self) -> dict[str, float]:
        """`{"inference_ms_p50", "inference_ms_p95"}`, or {} before the first sample (nothing to report)."""
        with self._lock:
            values = list(self._values)
        if not values:
            return {}
        return {"inference_ms_p50": round(percentile(values, 50), 2),
                "inference_ms_p95": round(percentile(values, 95), 2)}
