"""The review queue's depth, read at each scrape (annotations/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from reviewer.models import ItemStatus, ReviewItem

# Accepted items are history, not queue: leaving them out keeps the series few and the count to open work.
OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.LEASED, ItemStatus.SUBMITTED, ItemStatus.REJECTED)


def queue_depth() -> Iterator[Metric]:
    """Open review items by reason and status, across projects: one grouped query."""
    depth = GaugeMetricFamily("loupe_review_queue_items", "Open review items, by reason and status.",
                              labels=["reason", "status"])
    rows = (ReviewItem.objects.filter(status__in=OPEN_STATUSES).values_list("reason", "status")
            .annotate(n=Count("id")).order_by())
    for reason, status, n in rows:
        depth.add_metric([reason, status], float(n))
    yield depth
