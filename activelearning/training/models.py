"""The retrain threshold counters and requests, trainer settings and training runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Project


class RetrainState(models.Model):
    """Per project: the current epoch (dataset versions frozen so far) and the acceptances counted toward the
    threshold since the last one. Incremented inside each acceptance's transaction; its row lock is what
    makes exactly one acceptance see the count reach the threshold."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    epoch = models.PositiveIntegerField(default=0)
    accepted_since = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.project_id}: epoch {self.epoch}, {self.accepted_since} accepted since"


class SiteRetrainCount(models.Model):
    """Acceptances per site since the last dataset version, counted only when the project has a per-site
    threshold (TrainerConfig.per_site_threshold): a site whose cameras see something new triggers on its own."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey("annotations.Site", on_delete=models.CASCADE, related_name="+")
    accepted_since = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "site"], name="site_retrain_count_once")]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.site_id}: {self.accepted_since}"


class RetrainTrigger(models.TextChoices):
    THRESHOLD = "threshold"
    MANUAL = "manual"


class RetrainRequest(models.Model):
    """One per project epoch (a constraint). It is also the outbox row of the dispatch: `dispatched_at` is
    set in the transaction that freezes the dataset version and queues the training run."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="retrain_requests")
    epoch = models.PositiveIntegerField()
    trigger = models.CharField(max_length=16, choices=RetrainTrigger.choices)
    accepted_count = models.PositiveIntegerField(help_text="Acceptances counted toward the threshold.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "epoch"], name="retrain_once_per_epoch")]
        indexes = [models.Index(fields=["dispatched_at"], condition=Q(dispatched_at__isnull=True),
                                name="retrain_undispatched")]

    def __str__(self) -> str:
        return f"retrain {self.project_id} epoch {self.epoch} ({self.trigger})"


class TrainerBackend(models.TextChoices):
    REFERENCE = "reference"  # activelearning/training/trainers/reference.py (torch), in a Celery worker
    COMMAND = "command"  # an operator-allowed command gets the export's path and leaves an .onnx file
    WEBHOOK = "webhook"  # an external pipeline, told by a signed request and calling back with the model


class TrainerConfig(models.Model):
    """How a project retrains and when a candidate may promote itself."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="trainer")
    backend = models.CharField(max_length=16, choices=TrainerBackend.choices, default=TrainerBackend.REFERENCE)
    command = models.CharField(max_length=64, blank=True,
                               help_text="The name of a trainer command the operator allowed (LOUPE_TRAINER_COMMANDS).")
    webhook_url = models.URLField(blank=True)
    webhook_secret = models.CharField(max_length=128, blank=True)
    epochs = models.PositiveIntegerField(default=20)
    per_site_threshold = models.PositiveIntegerField(
        default=0, help_text="Also retrain when one site's acceptances since the last dataset reach this (0: off).")
    auto_promote = models.BooleanField(default=False)
    promote_margin = models.FloatField(default=0.02, help_text="mAP@0.5 the candidate must win by overall.")
    slice_tolerance = models.FloatField(default=0.05, help_text="mAP@0.5 any slice may lose at most.")

    def __str__(self) -> str:
        return f"{self.project_id}: {self.backend}"


class TrainingStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TrainingRun(models.Model):
    """One training of a dataset version by the project's trainer backend."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_runs")
    dataset_version = models.ForeignKey("DatasetVersion", on_delete=models.PROTECT, related_name="training_runs")
    request = models.OneToOneField(RetrainRequest, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="training_run")
    backend = models.CharField(max_length=16, default="reference")
    status = models.CharField(max_length=16, choices=TrainingStatus.choices, default=TrainingStatus.QUEUED)
    log = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey("ModelVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", help_text="The candidate it produced.")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from the worker.")
    callback_nonce = models.CharField(max_length=64, blank=True, help_text="Webhook: the one callback accepted.")
    code_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"training {self.pk} of dataset {self.dataset_version_id}: {self.status}"
