"""The webhook outbox never holds a database transaction while it waits on a receiver (issue 14, finding 5).

On the embedded SQLite an open write transaction is the database's one writer lock: a receiver that takes
9 s to answer made every claim wait for it. Here a real HTTP receiver holds the request until the test has
done its writes, so a write that had to wait for the send would never finish first (it fails instead: the
receiver gives up waiting and the write's lock wait times out). Runs on PostgreSQL and on SQLite
(tests/test_sqlite_mode.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from activelearning.webhooks import services as webhooks
from activelearning.webhooks.models import Webhook, WebhookDelivery
from activelearning.webhooks.services import CLAIM_BATCH, LEASE, claim_due, deliver_due, enqueue_event
from reviewer.models import ReviewItem
from tests.factories import add_member, as_user, make_items, make_project
from tests.http_receiver import receiving

SECRET = "w" * 40
WAIT = 30  # seconds an event may take before the test gives up (never reached when the code is right)


@dataclass
class SlowReceiver:
    """A real receiver that, once a request arrives, answers only when the test releases it, and notes what
    the sending worker's connection was doing meanwhile."""

    port: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    sender: Any = None  # the sending thread's Django connection, set by that thread
    sender_pid: int = 0  # its PostgreSQL backend
    sender_in_transaction: list[bool] = field(default_factory=list)
    sender_pg_state: list[str] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@pytest.fixture
def receiver() -> Iterator[SlowReceiver]:
    state = SlowReceiver()

    def respond(headers: dict[str, str], body: bytes) -> int:
        state.received.append(body)
        sender = state.sender
        if sender is not None:
            state.sender_in_transaction.append(sender.in_atomic_block or not sender.get_autocommit())
            if sender.vendor == "postgresql":  # the server's view: is the worker's session inside a transaction?
                with connections["default"].cursor() as cursor:
                    cursor.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [state.sender_pid])
                    state.sender_pg_state.append(cursor.fetchone()[0])
                connections["default"].close()
        state.arrived.set()
        state.release.wait(timeout=WAIT)
        return 200

    with receiving(respond) as port:
        state.port = port
        yield state


@pytest.fixture(autouse=True)
def _outbound(settings, monkeypatch) -> None:
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.DEBUG = True  # plain http to the local receiver
    monkeypatch.setattr(webhooks, "kick_delivery", lambda: None)  # each test sends with `deliver_due` itself


@pytest.fixture
def project(db):
    project = make_project("store-counts")
    add_member(project, "bob", "annotator")
    return project


def hook(project, url: str) -> Webhook:
    return Webhook.objects.create(project=project, url=url, secret=SECRET, events=["item.accepted"])


def enqueue(project, item: int = 1) -> list[WebhookDelivery]:
    with transaction.atomic():
        return enqueue_event(project_id=project.pk, event="item.accepted", payload={"item": item})


@pytest.mark.django_db(transaction=True)
def test_a_claim_and_other_writes_complete_while_a_delivery_waits_on_a_slow_receiver(project, receiver):
    hook(project, receiver.url)
    [delivery] = enqueue(project)
    make_items(project, 2)
    outcome: dict[str, object] = {}

    def sweep() -> None:
        try:
            connection.ensure_connection()
            if connection.vendor == "postgresql":
                receiver.sender_pid = connection.connection.info.backend_pid
            receiver.sender = connections["default"]  # this thread's wrapper (`connection` resolves per thread)
            outcome["result"] = deliver_due()
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            outcome["error"] = exc
        finally:
            connection.close()

    worker = threading.Thread(target=sweep, name="webhook-sweeper")
    worker.start()
    try:
        assert receiver.arrived.wait(timeout=WAIT), "the delivery never reached the receiver"
        # The receiver now holds the request. These writes must finish before it is released.
        claimed = as_user("bob").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json")
        assert claimed.status_code == 200, claimed.content
        [second] = enqueue(project, item=2)  # another event's outbox row, in the same table
        assert not receiver.release.is_set()
        writes_done_while_the_receiver_waited = True
    finally:
        receiver.release.set()
        worker.join(timeout=WAIT)
    assert writes_done_while_the_receiver_waited and not worker.is_alive()
    assert "error" not in outcome, outcome
    # The sending worker held no transaction while it waited on the receiver.
    assert receiver.sender_in_transaction and not any(receiver.sender_in_transaction)
    if connection.vendor == "postgresql":
        assert set(receiver.sender_pg_state) == {"idle"}  # not 'idle in transaction'
    assert outcome["result"] == {"delivered": 2}  # the sweep went on to the row written meanwhile
    assert ReviewItem.objects.filter(lease_holder__username="bob").count() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.lease_token) == ("delivered", 1, None)
    assert WebhookDelivery.objects.get(pk=second.pk).status == "delivered"


@dataclass
class QuickReceiver:
    port: int = 0
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
def quick_receiver() -> Iterator[QuickReceiver]:
    state = QuickReceiver()

    def respond(headers: dict[str, str], body: bytes) -> int:
        state.received.append(body)
        return 200

    with receiving(respond) as port:
        state.port = port
        yield state


def test_a_delivery_whose_sender_died_mid_send_is_sent_again_once_its_lease_runs_out(project, quick_receiver):
    hook(project, f"http://127.0.0.1:{quick_receiver.port}/hooks")
    [delivery] = enqueue(project)
    start = timezone.now()
    [taken], dead_token = claim_due(now=start)  # this worker then dies before it records anything
    assert taken.pk == delivery.pk
    delivery.refresh_from_db()
    assert (delivery.status, delivery.lease_token, delivery.next_attempt_at) == ("pending", dead_token,
                                                                                start + LEASE)

    assert deliver_due(now=start + LEASE - timedelta(seconds=1)) == {}  # leased: nobody else sends it
    assert quick_receiver.received == []
    assert deliver_due(now=start + LEASE) == {"delivered": 1}  # the lease ran out: sent again, not lost
    assert len(quick_receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.lease_token) == ("delivered", 1, None)

    # The dead worker coming back to record its outcome changes nothing: it no longer holds the lease.
    assert webhooks._record(taken, token=dead_token, now=start, status_code=500, error="late") == "lost"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")


def test_sweepers_claim_disjoint_batches(project):
    hook(project, "http://127.0.0.1:9/unused")
    for item in range(CLAIM_BATCH + 5):
        enqueue(project, item=item)
    now = timezone.now()
    first, first_token = claim_due(now=now)
    second, second_token = claim_due(now=now)
    assert (len(first), len(second)) == (CLAIM_BATCH, 5)
    assert not {d.pk for d in first} & {d.pk for d in second}
    assert claim_due(now=now)[0] == []
    assert WebhookDelivery.objects.filter(lease_token=first_token).count() == CLAIM_BATCH
    assert WebhookDelivery.objects.filter(lease_token=second_token).count() == 5
