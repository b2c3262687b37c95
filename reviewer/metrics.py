"""The review queue's depth, read at each scrape (annotations/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, QuerySet
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from reviewer.models import OPEN_ITEM, ReviewItem


def queue_depth() -> Iterator[Metric]:
    """Open review items by reason and status, across projects: one grouped query, an index-only scan of
    item_open_by_reason. Accepted items are history, not queue: leaving them out keeps the series few and the
    count to open work. COUNT(*), not COUNT(id): the id is not in the index, and counting it would read every
    row from the table."""
    depth = GaugeMetricFamily("loupe_review_queue_items", "Open review items, by reason and status.",
                              labels=["reason", "status"])
    for reason, status, n in open_items_by_reason():
        depth.add_metric([reason, status], float(n))
    yield depth


def open_items_by_reason() -> QuerySet[ReviewItem, tuple[str, str, int]]:
    """(reason, status, count) of the open items."""
    return ReviewItem.objects.filter(OPEN_ITEM).values_list("reason", "status").annotate(n=Count("*")).order_by()
