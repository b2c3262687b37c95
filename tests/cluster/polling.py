"""Waiting on a real cluster: poll a condition until it holds, with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(what: str, condition: Callable[[], Any], timeout: float = 60, every: float = 0.1) -> Any:
    """Poll `condition` until it is truthy (its value is returned) or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
