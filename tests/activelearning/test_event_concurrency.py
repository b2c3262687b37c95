"""Concurrent re-sends against the real PostgreSQL: every event is stored once and queued once."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from annotations.models import Prediction
from reviewer.models import ReviewItem
from tests.factories import jpeg_bytes, make_device_kit, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_batch_resent_3_times_from_8_threads_stores_each_event_once(postgres):
    kit = make_device_kit()
    body = jpeg_bytes()
    assert kit.put_media(body).status_code == 201
    sha = hashlib.sha256(body).hexdigest()
    batch = [prediction_event(f"e{i}", sha, boxes=5, score=0.3 + (i % 50) / 100) for i in range(500)]
    start = threading.Barrier(8)

    def send(_: int) -> list[list[dict]]:
        client = type(kit.client)()
        start.wait()  # release all threads together so their transactions overlap
        try:
            out = []
            for _ in range(3):
                response = client.post("/api/v1/events", data={"events": batch}, content_type="application/json",
                                       HTTP_AUTHORIZATION=f"Bearer {kit.token}")
                assert response.status_code == 200, response.content
                out.append(response.json()["results"])
            return out
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        all_results = [r for per_thread in pool.map(send, range(8)) for r in per_thread]

    assert Prediction.objects.count() == 500
    assert Prediction.objects.values("event_id").distinct().count() == 500
    created = [r for results in all_results for r in results if r["status"] == "created"]
    duplicates = [r for results in all_results for r in results if r["status"] == "duplicate"]
    assert len(created) == 500, "each event is created by exactly one of the 24 sends"
    assert len(duplicates) == 24 * 500 - 500
    assert not [r for results in all_results for r in results if r["status"] == "rejected"]
    queued = [r["review_item"] for r in created if "review_item" in r]
    assert ReviewItem.objects.count() == len(queued) == len(set(queued))
