"""Request rates as written in settings (`"600/min"`); framework-free, so settings can check them at start."""

import re

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$", re.IGNORECASE)
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`"600/min"` → (600, 60); a count of periods is allowed: `"100/5min"` → (100, 300)."""
    match = _RATE_RE.match(rate)
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(f"{rate!r} is not a rate like 600/min, 20/hour or 100/5min")
    periods = int(match.group(2) or 1)
    return int(match.group(1)), periods * _PERIOD_SECONDS[match.group(3)[0].lower()]
