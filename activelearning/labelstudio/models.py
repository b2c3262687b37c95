"""A project's live link to a Label Studio project, and which Loupe item each Label Studio task stands for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Project
from reviewer.models import ReviewItem


class LabelStudioLink(models.Model):
    """Loupe project ↔ Label Studio project. Items pushed there are leased to `agent` (a user of its own, an
    annotator of the project) until an annotation comes back; annotations come back by webhook (authenticated
    by `webhook_secret_hash`) or by polling from `poll_cursor`."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="labelstudio_link")
    url = models.URLField(max_length=500, help_text="Label Studio's base URL, as Loupe reaches it.")
    token_encrypted = models.TextField(help_text="The API token, encrypted with a key derived from Loupe's own.")
    ls_project_id = models.PositiveIntegerField(null=True, blank=True)
    ls_webhook_id = models.PositiveIntegerField(null=True, blank=True)
    loupe_url = models.URLField(max_length=500, help_text="Loupe's base URL as Label Studio and its users reach it "
                                                          "(media links and the webhook).")
    webhook_secret_hash = models.CharField(max_length=64, help_text="sha256 of the secret Label Studio sends.")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              help_text="Holds the leases of pushed items; the author when no person matches.")
    auto_push = models.BooleanField(default=False, help_text="Push every newly routed item matching the filter.")
    push_filter = models.JSONField(default=dict, blank=True,
                                   help_text='{"reasons": [...], "min_priority": p, "site_ids": [...]}')
    webhooks_enabled = models.BooleanField(default=True)
    poll_cursor = models.DateTimeField(null=True, blank=True, help_text="Tasks updated after this are polled next.")
    annotators = models.JSONField(default=dict, blank=True, help_text="Label Studio user id → e-mail, as seen.")
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed calls; the backoff grows with it.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="No call to Label Studio before this.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"project {self.project_id} ↔ Label Studio {self.url} project {self.ls_project_id}"


class TaskState(models.TextChoices):
    PUSHING = "pushing"  # leased and sent; Label Studio's task id not confirmed yet
    PUSHED = "pushed"  # a task there, no annotation back yet
    ANNOTATED = "annotated"  # at least one annotation came back
    DELETED = "deleted"  # deleted in Label Studio: the item went back to Loupe's queue


class LabelStudioTask(models.Model):
    """One pushed item and its Label Studio task: pushing again never makes a second task for the item."""

    link = models.ForeignKey(LabelStudioLink, on_delete=models.CASCADE, related_name="tasks")
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="+")
    ls_task_id = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=TaskState.choices, default=TaskState.PUSHING)
    pushed_at = models.DateTimeField(auto_now_add=True)
    media_expires_at = models.DateTimeField(null=True, blank=True, help_text="When the task's signed image link "
                                                                              "runs out; the sync renews it before.")
    annotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "item"], name="ls_task_one_per_item"),
            models.UniqueConstraint(fields=["link", "ls_task_id"], condition=Q(ls_task_id__isnull=False),
                                    name="ls_task_id_unique"),
        ]
        indexes = [models.Index(fields=["link", "state"], name="ls_task_state")]

    def __str__(self) -> str:
        return f"item {self.item_id} → Label Studio task {self.ls_task_id} ({self.state})"


class LabelStudioVersion(models.Model):
    """A Label Studio annotation as of one `updated_at`, and the Loupe version made of it: the same annotation
    delivered twice (webhook and poll, or a retried webhook) is one version; an update is a new one."""

    link = models.ForeignKey(LabelStudioLink, on_delete=models.CASCADE, related_name="+")
    ls_annotation_id = models.PositiveIntegerField()
    ls_updated_at = models.CharField(max_length=40, help_text="As Label Studio wrote it.")
    annotation_id = models.BigIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    via = models.CharField(max_length=8, help_text="webhook or poll")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "ls_annotation_id", "ls_updated_at"],
                                               name="ls_version_once")]

    def __str__(self) -> str:
        return f"Label Studio annotation {self.ls_annotation_id} @ {self.ls_updated_at} → {self.annotation_id}"
