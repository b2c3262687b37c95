"""Alert rules and alerts (docs/alerts.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from activelearning.alerts.rules import KIND_CHOICES, SUBJECT_TYPES
from annotations.models import Project, Site


class AlertRule(models.Model):
    """One kind of alert for one project, with its thresholds. Every kind has a rule in every project: the
    defaults are written on first read or sweep (`ensure_rules`), so no data migration is needed and a kind
    added later appears by itself."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    params = models.JSONField(default=dict, blank=True, help_text="The kind's thresholds (rules.KINDS).")
    enabled = models.BooleanField(default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "kind"], name="alert_rule_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} rule of project {self.project_id}"


class Alert(models.Model):
    """A rule violated by one subject (a device, camera, site or rollout), from when the sweep first saw it
    until it saw the condition clear. At most one open alert per (rule, subject): the partial unique index is
    what two concurrent sweeps collide on, so one of them opens it and notifies, the other does nothing."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32)
    severity = models.CharField(max_length=16)
    subject_type = models.CharField(max_length=16, choices=[(s, s) for s in SUBJECT_TYPES])
    subject_id = models.BigIntegerField()
    subject_label = models.CharField(max_length=250)
    # Where the subject is, for site-scoped members (managers, operators); null: no site (a rollout).
    site = models.ForeignKey(Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="The figures that opened it.")
    last_value = models.JSONField(default=dict, blank=True, help_text="The figures at the last sweep.")
    # Whether `alert.opened` went out; `alert.resolved` goes out only then, so receivers see pairs.
    notified = models.BooleanField(default=False)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                        blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_note = models.CharField(max_length=500, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)
    silenced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    silence_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "subject_type", "subject_id"], condition=Q(resolved_at__isnull=True),
                                    name="alert_open_once_per_subject"),
        ]
        indexes = [
            # The bell and the open list: a project's open alerts.
            models.Index(fields=["project", "-opened_at"], condition=Q(resolved_at__isnull=True),
                         name="alert_open_by_project"),
            # The history, newest first.
            models.Index(fields=["project", "-opened_at", "-id"], name="alert_history"),
        ]
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.subject_type} {self.subject_id}: {'open' if self.resolved_at is None else 'resolved'}"
