"""When to try the server again: the state of the link, kept apart from the retry state of single batches.

Two questions with two answers (docs/edge.md, "Retries and backoff"):

- *Is the server reachable?* `LinkState`. A failure of the link itself (no connection, a cut or timed-out
  answer, a gateway's 502/503/504) puts the link **down**: nothing is sent, a cheap probe (`GET /healthz`) is
  tried on a short, capped schedule (1, 2, 4, 8, then every 15 s), and the first probe that gets an answer
  puts the link **up** again, so the backlog drains at once instead of waiting out a long backoff. Any real
  answer from the server (a heartbeat, a media HEAD/PUT, an events POST, a model poll) resets the link's
  failure count. A probe's answer brings the next attempt forward but does not reset the count: a link that
  answers probes yet cuts every real request still slows down to one attempt per probe interval.
- *Is the server asking us to wait?* A 429, or a 503 with `Retry-After`, **holds** every request (probes
  included) until the time it names, floored by our own jittered backoff (a `Retry-After: 0` would spin) and
  capped (a bogus far date would park the device).

What is wrong with one batch or one media file only (a 500 answering that request) never touches the link:
those events are deferred in the outbox on their own `Backoff` schedule, counted by their own attempts, and
the rest of the backlog goes on.

Pure: a clock and a random source are injected, so tests run whole schedules without sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": after n consecutive failures wait between d/2 and d, where
    d = min(cap, base · 2^(n-1)); the jitter keeps a fleet that lost the server together from returning
    together."""

    base: float = 1.0
    cap: float = 300.0
    random: Callable[[], float] = random.random

    def delay(self, failures: int) -> float:
        d = min(self.cap, self.base * 2 ** max(0, failures - 1))
        return d / 2 + self.random() * d / 2


PROBE_BASE = 1.0  # seconds before the first probe after the link fails
PROBE_CAP = 15.0  # longest wait between probes: an outage's end is noticed within this (plus jitter's half)
HOLD_CAP = 300.0  # longest a Retry-After (or our floor for a bare 429) holds everything


class LinkState:
    """Up, down (probing) or held by the server. Thread-safe: media uploads report from worker threads."""

    def __init__(self, *, clock: Callable[[], float] = time.time, random: Callable[[], float] = random.random,
                 probe_base: float = PROBE_BASE, probe_cap: float = PROBE_CAP, hold_cap: float = HOLD_CAP) -> None:
        self.clock = clock
        self.probes = Backoff(base=probe_base, cap=probe_cap, random=random)
        self.holds = Backoff(base=probe_base, cap=hold_cap, random=random)
        self.up = True
        self.failures = 0  # consecutive link failures (real requests and probes) since the last real answer
        self.busy = 0  # consecutive 429/503-with-Retry-After answers since the last real answer
        self.probe_at = 0.0  # while down: when the next probe is due
        self.hold_until = 0.0  # nothing at all is sent before this (the server's Retry-After)
        self.answered_at = float("-inf")  # when a real request last got a real answer
        self._lock = threading.Lock()

    def answered(self) -> None:
        """A real request got a real answer: the link works, its backoff starts over."""
        with self._lock:
            self.up, self.failures, self.busy = True, 0, 0
            self.answered_at = self.clock()

    def failed(self, *, started_at: float | None = None) -> bool:
        """A request (or a probe) could not reach the server: down, and probe after a growing interval.

        A request that started before another one got a real answer says nothing the answer did not refute
        (one upload cut while its neighbours got through): the link stays up, and False tells the caller that
        only this request failed, to be tried again at once. Each answer excuses one failure only, so a request
        that keeps failing beside a steady trickle of answers (heartbeats) still takes the link down."""
        with self._lock:
            if started_at is not None and self.answered_at > started_at:
                self.answered_at = float("-inf")
                return False
            self.up = False
            self.failures += 1
            self.probe_at = self.clock() + self.probes.delay(self.failures)
            return True

    def probed(self, *, reachable: bool) -> None:
        """A probe's outcome: reachable brings the next attempt forward (now); unreachable probes later."""
        if not reachable:
            self.failed()
            return
        with self._lock:
            self.up = True  # the count stays: only a real answer proves the real requests get through

    def told_to_wait(self, retry_after: float | None) -> None:
        """429, or 503 with Retry-After: hold everything until then (floored and capped, see the module)."""
        with self._lock:
            self.busy += 1
            wait = max(retry_after or 0.0, self.holds.delay(self.busy))
            self.hold_until = max(self.hold_until, self.clock() + min(self.holds.cap, wait))

    def ready_at(self) -> float:
        """When the next request may go: a probe if the link is down, a real request if it is up."""
        with self._lock:
            return max(self.hold_until, self.probe_at) if not self.up else self.hold_until
