"""The queue-depth gauge (reviewer/metrics.py) is read at every scrape: item_open_by_reason serves it, an index-only
scan of the open items already in GROUP BY order instead of a scan of the whole review-item table."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from reviewer.metrics import open_items_by_reason
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import make_items, make_project

pytestmark = pytest.mark.django_db


def test_the_gauge_query_can_be_answered_from_item_open_by_reason_alone(postgres):
    project = make_project("store-counts")
    items = make_items(project, 6)
    ReviewItem.objects.filter(pk__in=[i.pk for i in items[:2]]).update(status=ItemStatus.ACCEPTED)
    with transaction.atomic(), connection.cursor() as cursor:
        # With a handful of rows, reading the table (or a bitmap, or hashing) is cheaper; switched off, the plan
        # shows what the index can do, deterministically (the commit that added the index has the figures on
        # 200,000 rows, where the planner picks this plan by itself).
        for plan_kind in ("seqscan", "bitmapscan", "hashagg"):
            cursor.execute(f"SET LOCAL enable_{plan_kind} = off")
        plan = open_items_by_reason().explain()
    assert "Index Only Scan using item_open_by_reason" in plan, plan  # the table itself is not read
    assert "Sort" not in plan, plan  # the index's order is the grouping's


def test_the_gauge_counts_open_items_only(db):
    project = make_project("store-counts")
    items = make_items(project, 5)
    ReviewItem.objects.filter(pk=items[0].pk).update(status=ItemStatus.ACCEPTED)
    ReviewItem.objects.filter(pk=items[1].pk).update(status=ItemStatus.REJECTED)
    assert sorted(open_items_by_reason()) == [("low_confidence", "pending", 3), ("low_confidence", "rejected", 1)]
