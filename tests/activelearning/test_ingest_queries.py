"""The ingest hot path makes a constant number of queries whatever the batch size."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import jpeg_bytes, prediction_event

pytestmark = pytest.mark.django_db


def queries_for(kit, events) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = kit.post_events(events)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_the_batch(postgres, kit):
    # PostgreSQL only: Django splits SQLite bulk inserts at its 999-parameter limit.
    body = jpeg_bytes()
    assert kit.put_media(body).status_code == 201
    sha = hashlib.sha256(body).hexdigest()
    small = queries_for(kit, [prediction_event(f"s{i}", sha) for i in range(5)])
    large = queries_for(kit, [prediction_event(f"l{i}", sha, boxes=10) for i in range(500)])
    assert large == small
    # auth, cameras, assets, policy, savepoint, stage (create once per connection), COPY, INSERT … SELECT,
    # clear stage, insert items, the champion probe (pre-labels are queued only when one serves), release: a
    # constant, whatever the batch size
    assert large <= 13
    resent = queries_for(kit, [prediction_event(f"l{i}", sha, boxes=10) for i in range(500)])
    assert resent <= large + 1  # plus the lookup that tells duplicates from conflicts
