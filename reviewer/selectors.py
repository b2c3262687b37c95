"""Reads of the review queue. Callers check membership first (`annotations.selectors.access_project`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from reviewer.models import ItemStatus, ReviewItem


def queue_stats(project_id: int) -> dict[str, Any]:
    """A project's queue depth, as pushed in `queue.stats`; two queries whatever the number of items.

    An expired lease counts as pending: the claim query hands it out again. Pending items with no site
    are in `pending` and `pending_by_reason` but not in `pending_by_site`.
    """
    now = timezone.now()
    start_of_day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    live_lease = Q(status=ItemStatus.LEASED, lease_expires_at__gt=now)
    expired_lease = Q(status=ItemStatus.LEASED, lease_expires_at__lte=now)
    accepted_today = Q(status=ItemStatus.ACCEPTED, updated_at__gte=start_of_day)

    by_reason: Counter[str] = Counter()
    by_site: Counter[str] = Counter()
    pending = 0
    groups = (
        ReviewItem.objects.filter(Q(status=ItemStatus.PENDING) | expired_lease, project_id=project_id)
        .values_list("reason", "site__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for reason, site_name, n in groups:
        pending += n
        by_reason[reason] += n
        if site_name is not None:
            by_site[site_name] += n

    others = ReviewItem.objects.filter(
        live_lease | Q(status=ItemStatus.SUBMITTED) | accepted_today, project_id=project_id
    ).aggregate(
        leased=Count("id", filter=live_lease),
        submitted=Count("id", filter=Q(status=ItemStatus.SUBMITTED)),
        accepted_today=Count("id", filter=accepted_today),
    )
    return {
        "pending": pending,
        "pending_by_reason": dict(by_reason),
        "pending_by_site": dict(by_site),
        "leased": others["leased"],
        "submitted": others["submitted"],
        "accepted_today": others["accepted_today"],
    }
