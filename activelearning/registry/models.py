"""Model versions, server pre-label runs and shadow evaluations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Project


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate"
    SHADOW = "shadow"
    CHAMPION = "champion"
    RETIRED = "retired"


class ModelVersion(models.Model):
    """One uploaded ONNX detector of a project (DESIGN.md, "Model registry").

    The file is content-addressed in media storage under `models/<sha256>.onnx`. Exactly one champion per
    project is a database constraint; `replaces` remembers the champion it took over from, so a rollback
    restores that one in a single step.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField(help_text="1, 2, … per project, in upload order.")
    file = models.FileField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    input_width = models.PositiveIntegerField()
    input_height = models.PositiveIntegerField()
    classes = models.JSONField(help_text="Class names in output order.")
    opset = models.PositiveIntegerField(null=True, blank=True)
    conf_threshold = models.FloatField(default=0.25, help_text="Operating point: pre-labels keep boxes scoring this.")
    metadata = models.JSONField(default=dict, blank=True, help_text="What the validation probe read and measured.")
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE)
    replaces = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 help_text="The champion this one took over from (the rollback target).")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", help_text="The admin who made it champion.")
    promoted_at = models.DateTimeField(null=True, blank=True)
    dataset_version = models.ForeignKey("DatasetVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", help_text="Lineage: the data it was trained on.")
    code_version = models.CharField(max_length=64, blank=True, help_text="Lineage: the trainer's code version.")
    consecutive_failures = models.PositiveIntegerField(default=0)
    out_of_service = models.BooleanField(default=False, help_text="Set after repeated inference failures.")
    out_of_service_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project"], condition=Q(status="champion"),
                                    name="model_one_champion_per_project"),
            models.UniqueConstraint(fields=["project", "version"], name="model_version_unique"),
            models.UniqueConstraint(fields=["project", "sha256"], name="model_file_once_per_project"),
        ]
        ordering = ["project", "-version"]

    def __str__(self) -> str:
        return f"{self.project.slug} {self.name} v{self.version} ({self.status})"

    @property
    def display_name(self) -> str:
        """The one name people see for this version on every page ("people-detector v3")."""
        return f"{self.name} v{self.version}"


class PrelabelStatus(models.TextChoices):
    DONE = "done"
    FAILED = "failed"


class PrelabelRun(models.Model):
    """The server model's pass over one review item: done (its boxes are a `server` Prediction) or failed with
    the reason. One per (item, model version, frame), so a re-delivered task does not run twice."""

    review_item = models.ForeignKey("reviewer.ReviewItem", on_delete=models.CASCADE, related_name="prelabel_runs")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="prelabel_runs")
    frame_index = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="The clip frame a person asked about in the clip reviewer; empty: the item's own frame.")
    status = models.CharField(max_length=8, choices=PrelabelStatus.choices)
    prediction = models.ForeignKey("annotations.Prediction", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    error = models.TextField(blank=True)
    timings_ms = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # NULLS NOT DISTINCT: the item's own pass (frame empty) is still once per model.
        constraints = [models.UniqueConstraint(fields=["review_item", "model_version", "frame_index"],
                                               nulls_distinct=False, name="prelabel_once_per_frame")]

    def __str__(self) -> str:
        return f"pre-label of item {self.review_item_id} by model {self.model_version_id}: {self.status}"


class EvaluationStatus(models.TextChoices):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ModelEvaluation(models.Model):
    """A shadow evaluation: a model and the champion on the same held-out frames, scored against the accepted
    annotations, overall and per slice (site, camera, lighting, crowd). `report` holds both reports."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="evaluations")
    baseline = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 help_text="The champion it was compared with, if there was one.")
    status = models.CharField(max_length=8, choices=EvaluationStatus.choices, default=EvaluationStatus.RUNNING)
    dataset_version = models.ForeignKey("DatasetVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", help_text="Its test split; none: the held-out assets.")
    decision = models.JSONField(default=dict, blank=True, help_text="The promotion gate's verdict and reasons.")
    images = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"evaluation of {self.model_version_id}: {self.status}"
