"""Webhook subscriptions and the delivery outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotations.models import Project


class WebhookEvent(models.TextChoices):
    """What a project's webhook can subscribe to (API.md, "Webhooks")."""

    ITEM_ACCEPTED = "item.accepted"
    THRESHOLD_REACHED = "threshold.reached"
    TRAINING_FINISHED = "training.finished"
    MODEL_PROMOTED = "model.promoted"
    DRIFT_ALERT = "drift.alert"
    ROLLOUT_HALTED = "rollout.halted"
    ALERT_OPENED = "alert.opened"
    ALERT_RESOLVED = "alert.resolved"


PING = "ping"  # the delivery `POST /webhooks/{id}/test` sends; not subscribable


class Webhook(models.Model):
    """A receiver of a project's events: deliveries are POSTed to `url`, signed with `secret` (HMAC-SHA256)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, help_text="Write-only in the API; signs every delivery.")
    events = models.JSONField(default=list, help_text="A subset of WebhookEvent's values.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook {self.pk} of project {self.project_id} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """The outbox row of one event for one webhook, written in the transaction of the change it reports and
    worked off by `activelearning.webhooks.services.deliver_due`; also the delivery log. `event_id` is the receiver's
    idempotency key (`X-Loupe-Delivery`): a delivery may arrive more than once, never with another id."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    event_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When a sweeper may take it next; while a sweeper sends it, when that sweeper's lease runs out.
    next_attempt_at = models.DateTimeField()
    # The sweeper sending it now (its claim's token), so only that one records the outcome; null otherwise.
    lease_token = models.UUIDField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweeper's query: due pending rows, oldest first; delivered/failed rows stay out of the index.
            models.Index(fields=["next_attempt_at", "id"], name="webhook_delivery_due",
                         condition=Q(status="pending")),
            # The delivery log of one webhook, newest first.
            models.Index(fields=["webhook", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} → webhook {self.webhook_id}: {self.status}"
