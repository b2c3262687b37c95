"""Project webhooks: an outbox row per event written in the change's transaction, delivered signed to a real
local HTTP receiver, retried with backoff (time moved with `now=`, never slept), once per row under
concurrent sweepers; the events wired where the changes happen; the admins' API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.registry.services import promote_model, rollback_champion
from activelearning.training.models import RetrainRequest, TrainerConfig, TrainingRun
from activelearning.training.runs import run_training
from activelearning.training.threshold import freeze_dataset
from activelearning.webhooks import services as webhooks
from activelearning.webhooks.models import Webhook, WebhookDelivery
from activelearning.webhooks.services import MAX_ATTEMPTS, backoff, deliver_due, enqueue_event
from annotations.models import AuditEvent
from tests.activelearning.test_retraining import accept, submitted_items
from tests.factories import add_member, as_user, make_project
from tests.http_receiver import receiving

SECRET = "w" * 40


@dataclass
class Receiver:
    """A real HTTP server standing in for a customer's endpoint: answers with `statuses` in turn (then 200)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    gate: threading.Barrier | None = None  # when set, the first requests wait for each other

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/loupe"

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()

    state = Receiver(port=0)

    def respond(headers: dict[str, str], body: bytes) -> int:
        with lock:
            state.received.append((headers, body))
            status = state.statuses.pop(0) if state.statuses else 200
        if state.gate is not None:
            try:
                state.gate.wait(timeout=10)
            except threading.BrokenBarrierError:
                state.gate = None
        return status

    with receiving(respond) as port:
        state.port = port
        yield state


@pytest.fixture(autouse=True)
def _outbound(settings) -> None:
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.DEBUG = True  # plain http to the local receiver


@pytest.fixture(autouse=True)
def kicks(monkeypatch) -> list[int]:
    """The after-commit kick is recorded, not run: each test sends with `deliver_due` itself, at its clock."""
    sent: list[int] = []
    monkeypatch.setattr(webhooks, "kick_delivery", lambda: sent.append(1))
    return sent


@pytest.fixture
def project(db):
    project = make_project("store-counts")
    project.retrain_threshold = 3
    project.save()
    add_member(project, "dana", "admin")
    add_member(project, "bob", "reviewer")
    User.objects.create_user("charlie", password="pw-123456")
    return project


def hook(project, receiver: Receiver, events: list[str], **fields) -> Webhook:
    return Webhook.objects.create(project=project, url=receiver.url, secret=SECRET, events=events, **fields)


def enqueue(project, event: str = "item.accepted", **data) -> list[WebhookDelivery]:
    with transaction.atomic():
        return enqueue_event(project_id=project.pk, event=event, payload=data or {"item": 1})


# --- Delivery ----------------------------------------------------------------------------------------


def test_a_delivery_is_signed_over_the_exact_body_it_sends(project, receiver):
    webhook = hook(project, receiver, ["item.accepted"])
    [delivery] = enqueue(project, item=42)
    assert deliver_due() == {"delivered": 1}

    [(headers, body)] = receiver.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Loupe-Signature"], expected)
    sent = json.loads(body)
    assert list(sent) == ["created_at", "data", "event", "id", "project"]  # sorted keys, nothing else
    assert sent["data"] == {"item": 42} and sent["event"] == "item.accepted" and sent["project"] == project.pk
    assert headers["X-Loupe-Event"] == "item.accepted"
    assert headers["X-Loupe-Delivery"] == sent["id"] == str(delivery.event_id)
    assert abs(int(headers["X-Loupe-Timestamp"]) - timezone.now().timestamp()) < 60
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.webhook == webhook and delivery.delivered_at is not None


def test_only_active_webhooks_subscribed_to_the_event_get_a_delivery(project, receiver, kicks,
                                                                    django_capture_on_commit_callbacks):
    wanted = hook(project, receiver, ["item.accepted", "model.promoted"])
    hook(project, receiver, ["model.promoted"])
    hook(project, receiver, ["item.accepted"], active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert [d.webhook for d in enqueue(project)] == [wanted]
    assert kicks == [1]  # the delivery task is kicked after the commit
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueue(project, "drift.alert") == []  # reserved: subscribable, nobody subscribed here
    assert kicks == [1]


@pytest.mark.django_db(transaction=True)
def test_a_committed_acceptance_sends_one_item_accepted_and_a_rolled_back_one_none(project, receiver, kicks):
    hook(project, receiver, ["item.accepted"])
    bob = User.objects.get(username="bob")
    kept, undone = submitted_items(project, 2)
    accept(kept, bob)
    with pytest.raises(RuntimeError), transaction.atomic():
        accept(undone, bob)
        raise RuntimeError("the request failed after the acceptance")
    assert [d.payload for d in WebhookDelivery.objects.all()] == [{"item": kept.pk}]
    assert kicks == [1]
    assert deliver_due() == {"delivered": 1}
    assert [(b["event"], b["data"]) for b in receiver.bodies()] == [("item.accepted", {"item": kept.pk})]


def test_a_receiver_answering_500_then_200_is_retried_after_the_backoff(project, receiver):
    hook(project, receiver, ["item.accepted"])
    receiver.statuses = [500]
    [delivery] = enqueue(project)
    start = timezone.now()
    assert deliver_due(now=start) == {"retrying": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert "500" in delivery.last_error and delivery.next_attempt_at == start + timedelta(seconds=10)

    assert deliver_due(now=start + timedelta(seconds=9)) == {}  # not due yet: nothing sent
    assert len(receiver.received) == 1
    assert deliver_due(now=start + timedelta(seconds=10)) == {"delivered": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert delivery.last_error == ""
    first, second = receiver.received
    assert first[1] == second[1]  # the same bytes, the same id: the receiver can deduplicate
    assert first[0]["X-Loupe-Delivery"] == second[0]["X-Loupe-Delivery"]


def test_each_attempts_outcome_is_pushed_to_the_projects_admins(project, receiver,
                                                                django_capture_on_commit_callbacks):
    """The admins' delivery log follows a delivery live (no polling): one `webhook.delivery` per attempt, on the
    group only admins' sockets join."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from reviewer.realtime import project_admins_group

    webhook = hook(project, receiver, ["item.accepted"])
    receiver.statuses = [503]
    [delivery] = enqueue(project)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(project_admins_group(project.pk), channel)
    try:
        start = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver_due(now=start) == {"retrying": 1}
            assert deliver_due(now=start + timedelta(seconds=10)) == {"delivered": 1}

        async def received(n: int) -> list[dict]:  # one event loop for the channel's receives
            return [(await asyncio.wait_for(layer.receive(channel), timeout=5))["payload"] for _ in range(n)]

        pushed = async_to_sync(received)(2)
    finally:
        async_to_sync(layer.group_discard)(project_admins_group(project.pk), channel)
    assert pushed == [
        {"type": "webhook.delivery", "webhook": webhook.pk, "delivery": delivery.pk, "status": "pending", "attempts": 1},
        {"type": "webhook.delivery", "webhook": webhook.pk, "delivery": delivery.pk, "status": "delivered",
         "attempts": 2},
    ]


def test_eight_failed_attempts_end_failed(project, receiver):
    hook(project, receiver, ["item.accepted"])
    receiver.statuses = [503] * 20
    [delivery] = enqueue(project)
    now, waits = timezone.now(), []
    for _ in range(MAX_ATTEMPTS):
        deliver_due(now=now)
        delivery.refresh_from_db()
        waits.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 8, 503)
    assert [w.total_seconds() for w in waits[:-1]] == [10, 20, 40, 80, 160, 320, 640]
    assert deliver_due(now=now + timedelta(days=1)) == {}
    assert len(receiver.received) == MAX_ATTEMPTS
    assert backoff(20) == timedelta(hours=1)  # capped


def test_an_unreachable_receiver_is_retried_with_the_reason(project, receiver):
    Webhook.objects.create(project=project, url="http://127.0.0.1:9/closed", secret=SECRET,
                           events=["item.accepted"])
    [delivery] = enqueue(project)
    assert deliver_due() == {"retrying": 1}
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.last_status_code is None and "Connect" in delivery.last_error


def test_a_host_off_the_allow_list_fails_the_delivery_without_any_request(project, receiver, settings):
    hook(project, receiver, ["item.accepted"])
    [delivery] = enqueue(project)
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["hooks.example.com"]  # the operator narrowed the list since
    assert deliver_due() == {"failed": 1}
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 0 and "not allowed" in delivery.last_error
    assert receiver.received == []


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_deliver_each_row_once(project, receiver, postgres):
    hook(project, receiver, ["item.accepted"])
    hook(project, receiver, ["item.accepted"])
    for item in range(10):
        enqueue(project, item=item)
    receiver.gate = threading.Barrier(2)  # the first two requests wait for each other: both sweepers send at once
    start = threading.Barrier(2)
    outcomes: list[dict[str, int]] = []

    def sweep() -> None:
        try:
            start.wait(timeout=10)
            outcomes.append(deliver_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2
    ids = [headers["X-Loupe-Delivery"] for headers, _ in receiver.received]
    assert len(ids) == len(set(ids)) == 20
    assert all(o.get("delivered", 0) >= 1 for o in outcomes)  # each sweeper sent some
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


# --- The events, where the changes happen ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_crossing_the_retrain_threshold_sends_threshold_reached_once(project, receiver):
    hook(project, receiver, ["threshold.reached"])
    bob = User.objects.get(username="bob")
    for item in submitted_items(project, 5):  # 3 reach the threshold; the next epoch counts 2
        accept(item, bob)
    request = RetrainRequest.objects.get()
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event == "threshold.reached"
    assert delivery.payload == {"epoch": 0, "accepted": 3, "request": request.pk, "site": None}


def test_a_manual_retrain_is_not_a_threshold_event(project, receiver):
    hook(project, receiver, ["threshold.reached"])
    assert as_user("dana").post(f"/api/v1/projects/{project.pk}/retrain").status_code == 201
    assert not WebhookDelivery.objects.exists()


def model(project, n: int, status: str = ModelStatus.CANDIDATE) -> ModelVersion:
    return ModelVersion.objects.create(project=project, name=f"det-{n}", version=n, file=f"models/{n}.onnx",
                                       sha256=f"{n:064x}", size_bytes=1, input_width=64, input_height=64,
                                       classes=["person"], status=status)


def test_promotion_and_rollback_send_model_promoted(project, receiver):
    hook(project, receiver, ["model.promoted"])
    dana = User.objects.get(username="dana")
    first, second = model(project, 1), model(project, 2)
    promote_model(model=first, user=dana, to="champion")
    promote_model(model=second, user=dana, to="shadow")  # not a new champion: no event
    promote_model(model=second, user=dana, to="champion")
    rollback_champion(model=second, user=dana)
    assert [d.payload for d in WebhookDelivery.objects.order_by("id")] == [
        {"model": first.pk, "sha256": first.sha256, "version": 1, "replaces": None, "rolled_back": False},
        {"model": second.pk, "sha256": second.sha256, "version": 2, "replaces": first.pk, "rolled_back": False},
        {"model": first.pk, "sha256": first.sha256, "version": 1, "replaces": second.pk, "rolled_back": True},
    ]
    assert deliver_due() == {"delivered": 3}
    assert [b["event"] for b in receiver.bodies()] == ["model.promoted"] * 3


def test_a_finished_training_run_sends_training_finished(project, receiver, settings):
    hook(project, receiver, ["training.finished"])
    TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                 webhook_url="https://169.254.169.254/latest/meta-data")  # off the allow-list
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    run = TrainingRun.objects.create(project=project, dataset_version=version, backend="webhook")
    run_training(run_id=run.pk)
    run.refresh_from_db()
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event == "training.finished"
    assert delivery.payload == {"run": run.pk, "status": "failed", "model": None, "error": run.error}


# --- The API -----------------------------------------------------------------------------------------------


def test_an_admin_adds_lists_changes_and_removes_a_webhook_with_audit(project, receiver):
    dana, url = as_user("dana"), f"/api/v1/projects/{project.pk}/webhooks/"
    created = dana.post(url, {"url": receiver.url, "secret": SECRET, "events": ["item.accepted", "drift.alert"]},
                        format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "secret" not in body and body["events"] == ["drift.alert", "item.accepted"] and body["active"] is True
    assert body["created_by"] == "dana"
    assert [w["id"] for w in dana.get(url).json()] == [body["id"]]
    assert "secret" not in json.dumps(dana.get(url).json())

    changed = dana.patch(f"/api/v1/webhooks/{body['id']}", {"active": False, "secret": "n" * 32}, format="json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert Webhook.objects.get().secret == "n" * 32
    assert dana.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert not Webhook.objects.exists()
    audit = list(AuditEvent.objects.filter(object_type="webhook").order_by("id").values_list("action", "after"))
    assert [a for a, _ in audit] == ["webhook.created", "webhook.updated", "webhook.deleted"]
    assert audit[1][1]["secret_changed"] is True and SECRET not in json.dumps([after for _, after in audit])


@pytest.mark.parametrize(("change", "code"), [
    ({"url": "https://evil.example.net/x"}, "url_not_allowed"),
    ({"url": "ftp://127.0.0.1/x"}, "invalid_url"),
    ({"events": ["item.accepted", "item.deleted"]}, "unknown_event"),
    ({"events": []}, "no_events"),
    ({"secret": "short"}, "secret_too_short"),
    ({"events": "item.accepted"}, "invalid"),
])
def test_bad_webhooks_are_refused_with_their_code_and_nothing_is_stored(project, receiver, change, code):
    dana = as_user("dana")
    good = {"url": receiver.url, "secret": SECRET, "events": ["item.accepted"]}
    refused = dana.post(f"/api/v1/projects/{project.pk}/webhooks/", {**good, **change}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == code
    assert not Webhook.objects.exists() and not AuditEvent.objects.filter(object_type="webhook").exists()

    webhook = hook(project, receiver, ["item.accepted"])
    patched = dana.patch(f"/api/v1/webhooks/{webhook.pk}", change, format="json")
    assert patched.status_code == 400 and patched.json()["error"]["code"] == code
    webhook.refresh_from_db()
    assert (webhook.url, webhook.secret, webhook.events) == (receiver.url, SECRET, ["item.accepted"])


def test_only_admins_manage_webhooks_reviewers_get_403_outsiders_404(project, receiver):
    webhook = hook(project, receiver, ["item.accepted"])
    body = {"url": receiver.url, "secret": SECRET, "events": ["item.accepted"]}
    calls = [("get", f"/api/v1/projects/{project.pk}/webhooks/", None),
             ("post", f"/api/v1/projects/{project.pk}/webhooks/", body),
             ("patch", f"/api/v1/webhooks/{webhook.pk}", {"active": False}),
             ("delete", f"/api/v1/webhooks/{webhook.pk}", None),
             ("get", f"/api/v1/webhooks/{webhook.pk}/deliveries", None),
             ("post", f"/api/v1/webhooks/{webhook.pk}/test", None)]
    for username, status in (("bob", 403), ("charlie", 404)):
        for method, url, data in calls:
            answer = getattr(as_user(username), method)(url, data, format="json")
            assert answer.status_code == status, (username, method, url)
    assert APIClient().get(f"/api/v1/webhooks/{webhook.pk}/deliveries").status_code in (401, 403)
    assert as_user("dana").get("/api/v1/webhooks/999999/deliveries").status_code == 404
    webhook.refresh_from_db()
    assert webhook.active and Webhook.objects.count() == 1 and not WebhookDelivery.objects.exists()


def test_a_test_ping_is_delivered_and_shows_in_the_log_newest_first(project, receiver, kicks,
                                                                   django_capture_on_commit_callbacks):
    webhook = hook(project, receiver, ["model.promoted"], active=False)  # a ping goes out whatever the flag
    dana = as_user("dana")
    with django_capture_on_commit_callbacks(execute=True):
        ping = dana.post(f"/api/v1/webhooks/{webhook.pk}/test")
    assert ping.status_code == 202 and ping.json()["event"] == "ping" and ping.json()["status"] == "pending"
    assert kicks == [1]
    assert deliver_due() == {"delivered": 1}
    [(headers, body)] = receiver.received
    assert headers["X-Loupe-Event"] == "ping" and json.loads(body)["data"] == {"webhook": webhook.pk}
    dana.post(f"/api/v1/webhooks/{webhook.pk}/test")
    log = dana.get(f"/api/v1/webhooks/{webhook.pk}/deliveries").json()
    assert [d["status"] for d in log] == ["pending", "delivered"]
    assert log[1]["attempts"] == 1 and log[1]["last_status_code"] == 200
    assert len(dana.get(f"/api/v1/webhooks/{webhook.pk}/deliveries", {"limit": 1}).json()) == 1
    bad_limit = dana.get(f"/api/v1/webhooks/{webhook.pk}/deliveries", {"limit": 0})
    assert bad_limit.status_code == 400


def test_the_delivery_log_takes_the_same_queries_whatever_its_length(project, receiver,
                                                                     django_assert_num_queries):
    webhook = hook(project, receiver, ["item.accepted"])
    dana, url = as_user("dana"), f"/api/v1/webhooks/{webhook.pk}/deliveries"
    enqueue(project)
    with django_assert_num_queries(3):  # webhook, membership, deliveries
        assert len(dana.get(url).json()) == 1
    for item in range(10):
        enqueue(project, item=item)
    with django_assert_num_queries(3):
        assert len(dana.get(url).json()) == 11


def test_the_list_shows_each_webhooks_last_delivery_in_the_same_queries_whatever_its_length(
        project, receiver, django_assert_num_queries):
    dana, url = as_user("dana"), f"/api/v1/projects/{project.pk}/webhooks/"
    quiet = hook(project, receiver, ["model.promoted"])
    busy = hook(project, receiver, ["item.accepted"])
    receiver.statuses = [500]
    enqueue(project)
    deliver_due()
    [newest] = enqueue(project, item=2)
    with django_assert_num_queries(2):  # membership, webhooks with their newest delivery
        rows = dana.get(url).json()
    assert [r["id"] for r in rows] == [quiet.pk, busy.pk]
    assert rows[0]["last_delivery"] is None
    last = rows[1]["last_delivery"]
    assert (last["id"], last["event"], last["status"], last["last_status_code"]) == (newest.pk, "item.accepted",
                                                                                     "pending", None)
    deliver_due(now=timezone.now() + timedelta(minutes=1))
    last = dana.get(url).json()[1]["last_delivery"]
    assert (last["status"], last["last_status_code"]) == ("delivered", 200)

    for _ in range(5):
        hook(project, receiver, ["item.accepted"])
    enqueue(project, item=3)
    with django_assert_num_queries(2):
        assert len(dana.get(url).json()) == 7
    changed = dana.patch(f"/api/v1/webhooks/{busy.pk}", {"active": False}, format="json").json()
    assert changed["last_delivery"]["event"] == "item.accepted" and changed["active"] is False
    events_only = dana.patch(f"/api/v1/webhooks/{busy.pk}", {"events": ["model.promoted"]}, format="json").json()
    assert events_only["active"] is False  # a PATCH without `active` leaves it as it was
    created = dana.post(url, {"url": receiver.url, "secret": SECRET, "events": ["drift.alert"]}, format="json")
    assert created.status_code == 201 and created.json()["last_delivery"] is None


def test_the_delivery_log_pages_backwards_with_before(project, receiver):
    webhook = hook(project, receiver, ["item.accepted"])
    dana, url = as_user("dana"), f"/api/v1/webhooks/{webhook.pk}/deliveries"
    same_time = enqueue(project, item=0)[0].created_at
    for item in range(1, 5):
        enqueue(project, item=item)
    WebhookDelivery.objects.filter(payload__item__in=[1, 2]).update(created_at=same_time)  # ties: id breaks them
    everything = [d["id"] for d in dana.get(url).json()]
    assert len(everything) == 5

    pages, before = [], None
    while True:
        query = {"limit": 2} if before is None else {"limit": 2, "before": before}
        page = dana.get(url, query).json()
        if not page:
            break
        pages.append([d["id"] for d in page])
        before = page[-1]["id"]
    assert pages == [everything[0:2], everything[2:4], everything[4:5]]


@pytest.mark.parametrize(("query", "code"), [
    ({"before": "x"}, "invalid"),
    ({"before": 0}, "invalid"),
    ({"limit": 201}, "invalid"),
    ({"before": "another webhook's delivery"}, "invalid_cursor"),
    ({"before": 999999}, "invalid_cursor"),
])
def test_a_bad_delivery_log_page_is_refused_with_its_code(project, receiver, query, code):
    webhook = hook(project, receiver, ["item.accepted"])
    other = hook(project, receiver, ["model.promoted"])
    enqueue(project)
    if query.get("before") == "another webhook's delivery":  # not a cursor of this log
        query = {"before": WebhookDelivery.objects.create(webhook=other, event="ping", event_id=uuid.uuid4(),
                                                          next_attempt_at=timezone.now()).pk}
    refused = as_user("dana").get(f"/api/v1/webhooks/{webhook.pk}/deliveries", query)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == code


def test_paging_the_log_is_for_admins_only_reviewers_get_403_outsiders_404(project, receiver):
    webhook = hook(project, receiver, ["item.accepted"])
    [delivery] = enqueue(project)
    url = f"/api/v1/webhooks/{webhook.pk}/deliveries"
    assert as_user("bob").get(url, {"before": delivery.pk}).status_code == 403
    assert as_user("charlie").get(url, {"before": delivery.pk}).status_code == 404
    assert as_user("bob").get(f"/api/v1/projects/{project.pk}/webhooks/").status_code == 403
    assert as_user("charlie").get(f"/api/v1/projects/{project.pk}/webhooks/").status_code == 404


@pytest.mark.parametrize("url", ["http://hooks.example.org/x", "https://hooks.example.org/x"])
def test_a_refused_host_is_named_in_the_error_so_the_page_can_say_which(project, settings, url):
    settings.DEBUG = False
    refused = as_user("dana").post(f"/api/v1/projects/{project.pk}/webhooks/",
                                   {"url": url, "secret": SECRET, "events": ["item.accepted"]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "url_not_allowed"
    assert refused.json()["error"]["details"] == {"host": "hooks.example.org"}
    assert not Webhook.objects.exists()
