"""The production shape of background work: tasks go through Redis to a real `celery -A config worker` process.

Every other test runs tasks eagerly in the test's process (the embedded mode); this one checks the broker path
itself: what a change sends after its commit reaches a worker, which does it against the same database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction

from activelearning.models import DeliveryStatus, Webhook, WebhookDelivery
from activelearning.webhooks import enqueue_event
from config.celery import app
from tests.factories import make_project
from tests.http_receiver import receiving
from tests.server import ROOT, database_url

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "k" * 40


def broker_url() -> str:
    """A Redis database of its own, so the worker sees only this test's messages (other tests' servers queue
    tasks nobody consumes on the default one)."""
    url = os.environ.get("REDIS_URL", "")
    assert url.startswith("redis://"), "needs REDIS_URL (CI sets it)"
    return re.sub(r"(/\d+)?$", "/15", url, count=1)


@pytest.fixture
def worker(postgres: None, _media_root: Path) -> Iterator[subprocess.Popen[bytes]]:
    broker = broker_url()
    before = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, broker
    app.control.purge()  # nothing left over from an earlier run
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": broker, "MEDIA_STORAGE": str(_media_root),
           "LOUPE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1", "REQUIRE_POSTGRES": "1"}
    process = subprocess.Popen(  # noqa: S603 (fixed argv: our own worker)
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--concurrency", "1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
        app.conf.task_always_eager, app.conf.broker_url = before
        app.pool.force_close_all()


def test_a_committed_webhook_event_is_delivered_by_a_real_worker_through_redis(worker, settings):
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    arrived = threading.Event()
    received: list[bytes] = []

    def respond(headers: dict[str, str], body: bytes) -> int:
        received.append(body)
        arrived.set()
        return 200

    project = make_project("store-counts")
    with receiving(respond) as port:
        hook = Webhook.objects.create(project=project, url=f"http://127.0.0.1:{port}/hooks", secret=SECRET,
                                      events=["item.accepted"])
        with transaction.atomic():  # the delivery task is sent to the broker when this commits
            [delivery] = enqueue_event(project_id=project.pk, event="item.accepted", payload={"item": 7})
        # Waiting on another process: a bounded wait for the receiver, not a timing assertion.
        assert arrived.wait(timeout=60), f"no delivery; worker said: {_stderr(worker)}"
    assert len(received) == 1 and b'"item": 7' in received[0]
    delivery.refresh_from_db()
    for _ in range(100):  # the worker records the outcome right after the POST returns
        if delivery.status != DeliveryStatus.PENDING:
            break
        arrived.wait(0.05)
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 1


def _stderr(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        return "(still running)"
    assert process.stderr is not None
    return process.stderr.read().decode()[-2000:]
