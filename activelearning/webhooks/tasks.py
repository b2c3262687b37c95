"""Webhooks' background job: working off the delivery outbox."""

from __future__ import annotations

from celery import shared_task

from activelearning.webhooks.services import deliver_due


# Embedded mode: in a thread, so the request that caused the event never waits for a receiver.
@shared_task(name="webhooks.deliver", acks_late=True, ignore_result=True, embedded_in_thread=True)
def deliver_webhooks_task() -> dict[str, int]:
    """Work off the webhook outbox (sent after an event commits, and every 30 s by beat as a sweep)."""
    return deliver_due()
