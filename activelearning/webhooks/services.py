"""Project webhooks (API.md, "Webhooks"): the project's events POSTed, signed, to the receivers it configured.

An outbox (DESIGN.md): `enqueue_event` writes one WebhookDelivery per active subscribed webhook in the caller's
transaction, so a change that rolls back sends nothing and a committed one is never lost. After the commit a
delivery task is kicked; beat sweeps every 30 s for what is due (retries, a lost kick, a worker that died).

`deliver_due` never holds a transaction while it waits on a receiver (up to TIMEOUT_SECONDS each): on the
embedded SQLite an open write transaction is the database's one writer lock, and a slow receiver would stall
every claim and review behind it. It claims a small batch of due rows in a short transaction (SELECT … FOR
UPDATE SKIP LOCKED on PostgreSQL, then a conditional UPDATE that also serializes SQLite's sweepers), marking
each with its lease (`lease_token`, and `next_attempt_at` moved to when the lease runs out); commits; POSTs
outside any transaction; and records each outcome in its own short transaction, only if it still holds the
lease. Two sweepers never send the same row at once, and a worker that dies mid-request leaves the row to be
taken again when its lease runs out. Delivery is therefore at least once; receivers deduplicate on
`X-Loupe-Delivery`.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import orjson
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from activelearning import jobs
from activelearning.outbound import check_outbound_url, post_outbound, sign
from activelearning.webhooks.models import (
    PING,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from annotations import audit, events, metrics
from annotations.errors import InvalidInput
from annotations.events import EventName
from annotations.models import Project
from reviewer import realtime

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
TIMEOUT_SECONDS = 10.0
MIN_SECRET_LENGTH = 32
ERROR_LIMIT = 1000  # characters of an attempt's error kept
CLAIM_BATCH = 10
# A claimed batch is sent one row after another, each bounded by the timeout (connect, then read); past the
# lease the worker is presumed dead and the rows are due again for any sweeper.
LEASE = timedelta(seconds=CLAIM_BATCH * 2 * TIMEOUT_SECONDS + 60)


# --- The outbox ------------------------------------------------------------------------------------


def enqueue_event(*, project_id: int, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """One pending delivery per active webhook of the project subscribed to `event`.

    Call inside the transaction of the change the event reports; the delivery task is sent after it commits.
    """
    hooks = _subscribed(project_id, event)
    if not hooks:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(webhook_id=hook, event=event, payload=payload, event_id=uuid.uuid4(), created_at=now,
                        next_attempt_at=now) for hook in hooks])
    transaction.on_commit(kick_delivery, robust=True)  # a broker outage must not fail the change: beat sweeps
    return deliveries


def _subscribed(project_id: int, event: str) -> list[int]:
    """Ids of the project's active webhooks subscribed to `event`. One hand-written indexed statement: it runs
    in every acceptance's transaction, where the ORM's compile cost more than the lookup. Few webhooks per
    project, so the subscription is filtered here (portable: SQLite's JSON has no containment lookup)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, events FROM {Webhook._meta.db_table} "  # noqa: S608 (table name only)
                       "WHERE project_id = %s AND active ORDER BY id", [project_id])
        rows = cursor.fetchall()
    return [hook for hook, events in rows if event in (orjson.loads(events) if isinstance(events, str | bytes)
                                                        else events)]


def subscribe_to_domain_events() -> None:
    """Every webhook event is the domain event of the same name (annotations.events): its facts are the payload,
    and the delivery row is written inside the transaction of the change (committed or rolled back with it)."""
    for event in WebhookEvent:
        events.subscribe(cast(EventName, event.value), _SUBSCRIBERS[event.value])


def _subscriber(event: str) -> Callable[..., None]:
    def enqueue(*, project_id: int, **facts: Any) -> None:
        enqueue_event(project_id=project_id, event=event, payload=facts)

    enqueue.__qualname__ = f"enqueue_{event.replace('.', '_')}"
    return enqueue


# One subscriber per event, made once, so subscribing again (a second ready()) adds nothing.
_SUBSCRIBERS = {event.value: _subscriber(event.value) for event in WebhookEvent}


def kick_delivery() -> None:
    """After a commit that enqueued deliveries: a worker sends them now rather than at the next sweep. In the
    embedded mode (eager tasks) a background thread does, so the request that caused the event never waits
    for a receiver."""
    jobs.send("webhooks.deliver")


# --- Delivery --------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 10 s, 20 s, 40 s, … capped at an hour."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes POSTed and signed; the same on every attempt (built from the stored row, sorted keys)."""
    return json.dumps({"id": str(delivery.event_id), "event": delivery.event, "project": delivery.webhook.project_id,
                       "created_at": delivery.created_at.isoformat(), "data": delivery.payload},
                      sort_keys=True).encode()


def deliver_due(*, limit: int = 100, now: datetime | None = None) -> dict[str, int]:
    """Send up to `limit` due pending deliveries, a claimed batch at a time, no transaction open while sending;
    how many ended delivered, retrying or failed (`lost`: the lease ran out mid-send and another sweeper owns
    the row). `now` fixes the sweeper's clock (tests move it instead of sleeping); by default each claim and
    each outcome read the clock when they happen, so a long sweep never takes an already expired lease."""
    clock = (lambda: now) if now is not None else timezone.now
    outcomes: Counter[str] = Counter()
    while (left := limit - sum(outcomes.values())) > 0:
        claimed, token = claim_due(now=clock(), limit=min(CLAIM_BATCH, left))
        if not claimed:
            break
        for delivery in claimed:
            outcomes[_attempt(delivery, token=token, clock=clock)] += 1
    return dict(outcomes)


def claim_due(*, now: datetime, limit: int = CLAIM_BATCH) -> tuple[list[WebhookDelivery], uuid.UUID]:
    """Take up to `limit` due pending deliveries for this sweeper, in one short transaction: the rows (with
    their webhook) and the lease token that records their outcomes. A row stays `pending` while leased; its
    `next_attempt_at` is when the lease runs out, so a row whose sender died is simply due again then."""
    token = uuid.uuid4()
    with transaction.atomic():
        due = (WebhookDelivery.objects.select_for_update(skip_locked=True)  # ignored on SQLite: no row locks
               .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
        ids = list(due)
        if not ids:
            return [], token
        # The due conditions again: without row locks only this conditional UPDATE decides who took a row.
        WebhookDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
            lease_token=token, next_attempt_at=now + LEASE)
        claimed = list(WebhookDelivery.objects.select_related("webhook").filter(lease_token=token)
                       .order_by("id"))
    return claimed, token


def _attempt(delivery: WebhookDelivery, *, token: uuid.UUID, clock: Callable[[], datetime]) -> str:
    """POST one claimed delivery (outside any transaction) and record the outcome."""
    webhook = delivery.webhook
    body = delivery_body(delivery)
    headers = {"Content-Type": "application/json", "User-Agent": "Loupe-Webhooks/1",
               "X-Loupe-Signature": sign(webhook.secret, body), "X-Loupe-Event": delivery.event,
               "X-Loupe-Delivery": str(delivery.event_id), "X-Loupe-Timestamp": str(int(clock().timestamp()))}
    try:
        # Checked again at every send: the allow-list may have changed, and a name may now resolve inward.
        response = post_outbound(webhook.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except InvalidInput as exc:
        return _record(delivery, token=token, now=clock(), sent=False,
                       error=f"the URL is not allowed: {exc.message}")
    except httpx.HTTPError as exc:
        return _record(delivery, token=token, now=clock(),
                       error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if 200 <= response.status_code < 300:
        return _record(delivery, token=token, now=clock(), status_code=response.status_code)
    return _record(delivery, token=token, now=clock(), status_code=response.status_code,
                   error=f"the receiver answered {response.status_code}: {response.text[:200]}")


def _record(delivery: WebhookDelivery, *, token: uuid.UUID, now: datetime, status_code: int | None = None,
            error: str = "", sent: bool = True) -> str:
    """Store an attempt's outcome (delivered, pending again after the backoff, or failed for good) and end the
    lease, in one short transaction; nothing if the lease was lost meanwhile (that sweeper records its own)."""
    if sent:
        delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = status_code, error[:ERROR_LIMIT]
    if sent and not error:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    elif not sent or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    if delivery.status != DeliveryStatus.PENDING:
        delivery.next_attempt_at = now  # not the lease's end: the log shows when it was last tried
    delivery.lease_token = None
    with transaction.atomic():
        kept = WebhookDelivery.objects.filter(pk=delivery.pk, lease_token=token).update(
            attempts=delivery.attempts, last_status_code=status_code, last_error=delivery.last_error,
            status=delivery.status, delivered_at=delivery.delivered_at, next_attempt_at=delivery.next_attempt_at,
            lease_token=None)
        if not kept:
            return "lost"
        if error:
            metrics.WEBHOOK_FAILURES.labels(
                outcome="retrying" if delivery.status == DeliveryStatus.PENDING else "failed").inc()
        # The admins' delivery log follows the outcome live (sent after this transaction commits).
        realtime.publish(project_id=delivery.webhook.project_id, message={
            "type": "webhook.delivery", "webhook": delivery.webhook_id, "delivery": delivery.pk,
            "status": delivery.status, "attempts": delivery.attempts})
    return "retrying" if delivery.status == DeliveryStatus.PENDING else str(delivery.status)


# --- Managing a project's webhooks ---------------------------------------------------------------------


def _check(*, url: str | None = None, events: list[str] | None = None, secret: str | None = None) -> None:
    """The rules of a webhook's fields, each refused with its own code (nothing is stored)."""
    if url is not None:
        check_outbound_url(url)
    if events is not None:
        unknown = sorted(set(events) - set(WebhookEvent.values))
        if unknown:
            raise InvalidInput("Unknown webhook events.", code="unknown_event",
                               details={"unknown": unknown, "allowed": list(WebhookEvent.values)})
        if not events:
            raise InvalidInput("Subscribe to at least one event.", code="no_events",
                               details={"allowed": list(WebhookEvent.values)})
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInput(f"The secret must be at least {MIN_SECRET_LENGTH} characters.", code="secret_too_short")


def _described(webhook: Webhook) -> dict[str, Any]:
    """A webhook as the audit trail keeps it (never the secret)."""
    return {"url": webhook.url, "events": webhook.events, "active": webhook.active}


@transaction.atomic
def create_webhook(*, project: Project, user: User, url: str, secret: str, events: list[str],
                   active: bool = True) -> Webhook:
    """A new receiver of the project's events (its URL on the outbound allow-list)."""
    _check(url=url, events=events, secret=secret)
    webhook = Webhook.objects.create(project=project, url=url, secret=secret, events=sorted(set(events)),
                                     active=active, created_by=user)
    audit.record(action="webhook.created", obj_type="webhook", obj_id=webhook.pk, project_id=project.pk,
                 actor=user, after=_described(webhook))
    return webhook


@transaction.atomic
def update_webhook(*, webhook: Webhook, user: User, url: str | None = None, secret: str | None = None,
                   events: list[str] | None = None, active: bool | None = None) -> Webhook:
    """Change some of a webhook's fields; deliveries already queued keep going to it."""
    _check(url=url, events=events, secret=secret)
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    before = _described(webhook)
    if url is not None:
        webhook.url = url
    if events is not None:
        webhook.events = sorted(set(events))
    if active is not None:
        webhook.active = active
    if secret is not None:
        webhook.secret = secret
    webhook.save(update_fields=["url", "events", "active", "secret"])
    audit.record(action="webhook.updated", obj_type="webhook", obj_id=webhook.pk, project_id=webhook.project_id,
                 actor=user, before=before, after={**_described(webhook), "secret_changed": secret is not None})
    return webhook


@transaction.atomic
def delete_webhook(*, webhook: Webhook, user: User) -> None:
    """Remove a webhook with its pending deliveries and its delivery log (the audit trail keeps the fact)."""
    audit.record(action="webhook.deleted", obj_type="webhook", obj_id=webhook.pk, project_id=webhook.project_id,
                 actor=user, before=_described(webhook))
    webhook.delete()


@transaction.atomic
def send_test(*, webhook: Webhook) -> WebhookDelivery:
    """Queue a `ping` to this webhook (active or not), so an admin can check the receiver and its signature."""
    delivery = WebhookDelivery.objects.create(webhook=webhook, event=PING, payload={"webhook": webhook.pk},
                                              event_id=uuid.uuid4(), next_attempt_at=timezone.now())
    transaction.on_commit(kick_delivery, robust=True)  # a broker outage must not fail the change: beat sweeps
    return delivery
