"""The production shape of background work: the web process sends a task through Redis to a real
`celery -A config worker` process, which does it against the same database.

Every other test runs tasks eagerly in the test's process (the embedded mode). Here nothing Celery runs in the
test's process: a real server (uvicorn) and a real worker share a Redis database of their own, and the test
only speaks HTTP to the server and reads the database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from activelearning.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.factories import add_member, make_project
from tests.http_receiver import receiving
from tests.server import ROOT, LiveServer, database_url

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "k" * 40


def broker_url() -> str:
    """A Redis database of its own (emptied first): other tests' servers leave tasks that nobody consumes on
    the default one, and this worker must see only this test's."""
    url = os.environ.get("REDIS_URL", "")
    assert url.startswith("redis://"), "needs REDIS_URL (CI sets it)"
    return re.sub(r"(/\d+)?$", "/15", url, count=1)


@pytest.fixture
def services(postgres: None, _media_root: Path) -> Iterator[LiveServer]:
    broker = broker_url()
    redis.Redis.from_url(broker).flushdb()
    env = {"REDIS_URL": broker, "LOUPE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"}
    worker = subprocess.Popen(  # noqa: S603 (fixed argv: our own worker)
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--concurrency", "1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url(), "MEDIA_STORAGE": str(_media_root),
                       "REQUIRE_POSTGRES": "1", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with LiveServer(_media_root, env=env) as server:
            yield server
    finally:
        worker.kill()
        worker.wait(timeout=10)


def test_a_webhook_test_ping_is_sent_by_the_server_through_redis_and_delivered_by_a_real_worker(services):
    arrived = threading.Event()
    received: list[bytes] = []

    def respond(headers: dict[str, str], body: bytes) -> int:
        received.append(body)
        arrived.set()
        return 200

    project = make_project("store-counts")
    add_member(project, "dana", "admin")
    token = Token.objects.create(user=User.objects.get(username="dana"))
    api = httpx.Client(base_url=services.url, headers={"Authorization": f"Token {token.key}"}, timeout=10)
    with receiving(respond) as port:
        created = api.post(f"/api/v1/projects/{project.pk}/webhooks/", json={
            "url": f"http://127.0.0.1:{port}/hooks", "events": ["item.accepted"], "secret": SECRET})
        assert created.status_code == 201, created.text
        ping = api.post(f"/api/v1/webhooks/{created.json()['id']}/test")
        assert ping.status_code == 202 and ping.json()["status"] == "pending"
        # Waiting on other processes: a bounded wait for the receiver, not a timing assertion.
        assert arrived.wait(timeout=60), "the worker never delivered the ping"
    assert len(received) == 1 and b'"event": "ping"' in received[0]
    delivery = WebhookDelivery.objects.get(pk=ping.json()["id"])
    for _ in range(200):  # the worker records the outcome right after the POST returns
        if delivery.status != DeliveryStatus.PENDING:
            break
        arrived.wait(0.05)
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
