"""The error figures of corrected windows and their trend: pure arithmetic, no Django (unit-tested alone).

A corrected window is one where both the model's count and a person's corrected count are known
(docs/counts-api.md, "Corrected count"). Over a set of them:
- absolute error: the sum of |corrected - model| over the windows,
- relative error: that sum over the sum of corrected counts (at least 1, so an empty store is not a division
  by zero), the same normalisation as a flag's priority (reviewer.flags.relative_error) but not clipped,
- error rate: the share of windows where the model's count was not the corrected one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The trend compares the relative error of the last TREND_BUCKETS corrected buckets with the TREND_BUCKETS
# before them; a change under TREND_TOLERANCE (one percentage point) is "flat", not a direction.
TREND_BUCKETS = 4
TREND_TOLERANCE = 0.01


@dataclass(frozen=True)
class Corrections:
    """Sums over corrected windows; add two with `+` (a bucket's flags and reviews, a camera's buckets)."""

    windows: int = 0
    wrong: int = 0
    model_count: int = 0
    corrected_count: int = 0
    absolute_error: int = 0

    def __add__(self, other: Corrections) -> Corrections:
        return Corrections(self.windows + other.windows, self.wrong + other.wrong,
                           self.model_count + other.model_count, self.corrected_count + other.corrected_count,
                           self.absolute_error + other.absolute_error)

    @staticmethod
    def of_window(*, model_count: int, corrected_count: int) -> Corrections:
        return Corrections(1, int(model_count != corrected_count), model_count, corrected_count,
                           abs(corrected_count - model_count))

    @property
    def relative_error(self) -> float | None:
        if self.windows == 0:
            return None
        return round(self.absolute_error / max(self.corrected_count, 1), 6)

    @property
    def error_rate(self) -> float | None:
        return round(self.wrong / self.windows, 6) if self.windows else None


@dataclass(frozen=True)
class Trend:
    direction: str | None  # "better", "worse", "flat", or None: too few corrected buckets to say
    recent: float | None
    previous: float | None
    buckets: int  # how many corrected buckets each side holds


def trend(per_bucket: Sequence[Corrections], *, n: int = TREND_BUCKETS,
          tolerance: float = TREND_TOLERANCE) -> Trend:
    """The relative error over the last `n` corrected buckets against the `n` before them (fewer, and equal
    on both sides, when there are under 2n). `per_bucket` is in time order; buckets without corrections are
    skipped, so a quiet week does not count as an error-free one."""
    corrected = [c for c in per_bucket if c.windows > 0]
    side = min(n, len(corrected) // 2)
    if side == 0:
        return Trend(None, None, None, 0)
    recent = sum(corrected[-side:], Corrections()).relative_error
    previous = sum(corrected[-2 * side:-side], Corrections()).relative_error
    assert recent is not None and previous is not None  # noqa: S101  (each side has windows)
    direction = ("worse" if recent > previous + tolerance else "better" if recent < previous - tolerance
                 else "flat")
    return Trend(direction, recent, previous, side)
