"""How long a project keeps its media, predictions and audit trail; legal holds on sites; the prune runs.

Every limit is a number of days, null meaning "keep forever": a project without a policy row (every project
before retention existed) keeps everything, as before.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Project, Site


class RetentionPolicy(models.Model):
    """A project's retention limits (docs/retention.md). Null: keep forever."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    unreviewed_media_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Raw media nobody reviewed (never queued, or queued and never annotated): days after the "
                  "last event that used it.")
    reviewed_media_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Reviewed media: days after the last annotation version on it.")
    prediction_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Predictions and counts: days after they were received. Those a review item or an annotation "
                  "version refers to are kept with it.")
    audit_days = models.PositiveIntegerField(null=True, blank=True, help_text="Audit events: days after they happened.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # The API refuses shorter ones with a reason (AUDIT_FLOOR_DAYS); the database holds the line too.
            models.CheckConstraint(condition=Q(audit_days__isnull=True) | Q(audit_days__gte=365),
                                   name="retention_audit_at_least_a_year"),
        ]

    def __str__(self) -> str:
        return f"retention of project {self.project_id}"


class LegalHold(models.Model):
    """A site under legal hold: nothing of its media or predictions is deleted while the row exists."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, primary_key=True, related_name="legal_hold")
    reason = models.TextField()
    held_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    held_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"legal hold on site {self.site_id}"


class RetentionRun(models.Model):
    """One prune of one project, dry or real, with its report (what it listed or deleted, bytes freed)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    dry_run = models.BooleanField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["project", "-started_at"], name="retention_run_project_time")]

    def __str__(self) -> str:
        return f"{'dry ' if self.dry_run else ''}retention run {self.pk} of project {self.project_id}"
