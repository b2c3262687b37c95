"""What a routing policy would have done: the current and a proposed policy's decisions on the same events, summed up.

Pure (no Django): the service replays stored predictions through `route_event` and hands the decision pairs here.
Caps are not simulated (they depend on live counters of items already queued); a summary counts the queued events
that are not exempt as "subject to caps" instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from activelearning.routing.policy import Decision

HISTOGRAM_BINS = 10
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Replayed:
    """One stored event and the decisions of the current (`before`) and the proposed (`after`) policy on it."""

    prediction: int
    camera: str
    site: str
    before: Decision
    after: Decision


def priority_histogram(priorities: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """Counts of priorities in `bins` equal-width bins over [0, 1]; 1.0 falls in the last bin."""
    counts = [0] * bins
    for p in priorities:
        counts[min(bins - 1, max(0, int(p * bins)))] += 1
    return counts


def summarize(decisions: Sequence[Decision], sites: Sequence[str]) -> dict[str, Any]:
    """Events replayed, how many are queued (by reason, by site), the histogram of all events' priorities, and the
    share of queued events exempt from caps (the rest would be subject to caps)."""
    queued = [(d, site) for d, site in zip(decisions, sites, strict=True) if d.queue]
    exempt = sum(1 for d, _ in queued if d.exempt_from_caps)
    return {
        "events": len(decisions),
        "queued": len(queued),
        "queued_by_reason": dict(sorted(Counter(d.reason for d, _ in queued).items())),
        "queued_by_site": dict(sorted(Counter(site for _, site in queued).items())),
        "priority_histogram": priority_histogram([d.priority for d in decisions]),
        "exempt_from_caps_share": round(exempt / len(queued), 6) if queued else 0.0,
        "subject_to_caps": len(queued) - exempt,
    }


def compare_policies(events: Sequence[Replayed], *, examples: int = MAX_EXAMPLES) -> dict[str, Any]:
    """Both policies' summaries, how many events change between queued and not, and the first `examples` of them
    (in the order given: newest first)."""
    sites = [e.site for e in events]
    changed = [e for e in events if e.before.queue != e.after.queue]
    newly = sum(1 for e in changed if e.after.queue)
    return {
        "current": summarize([e.before for e in events], sites),
        "proposed": summarize([e.after for e in events], sites),
        "changed": len(changed),
        "newly_queued": newly,
        "no_longer_queued": len(changed) - newly,
        "examples": [
            {
                "prediction": e.prediction, "camera": e.camera, "site": e.site,
                "queued_before": e.before.queue, "queued_after": e.after.queue,
                "reason_before": e.before.reason, "reason_after": e.after.reason,
                "priority_before": round(e.before.priority, 6), "priority_after": round(e.after.priority, 6),
            }
            for e in changed[:examples]
        ],
    }
