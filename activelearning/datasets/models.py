"""Frozen dataset versions, their entries and camera splits, and export jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Project


class DatasetVersion(models.Model):
    """An immutable, content-hashed manifest of accepted annotations with a stable train/val/test split.

    The manifest is its DatasetEntry rows: (asset, accepted annotation version, split, slices). Annotation
    versions are append-only, so the boxes are frozen by reference and exports stream them from there."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dataset_versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    request = models.OneToOneField("RetrainRequest", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="dataset_version")
    content_hash = models.CharField(max_length=64, help_text="sha256 over the sorted (asset, labels, split).")
    stats = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="dataset_number_unique")]

    def __str__(self) -> str:
        return f"{self.project_id} dataset v{self.number} ({self.content_hash[:12]})"


class Split(models.TextChoices):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class CameraSplit(models.Model):
    """Which split a camera's frames belong to, decided the first time a dataset holds it and never changed:
    no camera's look leaks across splits, and a frame keeps its split in every later version."""

    camera = models.OneToOneField("annotations.Camera", on_delete=models.CASCADE, primary_key=True,
                                  related_name="+")
    split = models.CharField(max_length=8, choices=Split.choices)
    assigned_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"camera {self.camera_id}: {self.split}"


class DatasetEntry(models.Model):
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="entries")
    asset = models.ForeignKey("annotations.Asset", on_delete=models.PROTECT, related_name="+")
    annotation = models.ForeignKey("annotations.Annotation", on_delete=models.PROTECT, related_name="+")
    review_item = models.ForeignKey("reviewer.ReviewItem", on_delete=models.PROTECT, related_name="+")
    split = models.CharField(max_length=8, choices=Split.choices)
    slices = models.JSONField(default=dict, help_text="site, camera, lighting, crowd")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset_version", "asset"], name="dataset_asset_once")]
        indexes = [models.Index(fields=["dataset_version", "split"], name="dataset_split")]

    def __str__(self) -> str:
        return f"{self.dataset_version_id}: asset {self.asset_id} ({self.split})"


class ExportFormat(models.TextChoices):
    COCO = "coco"
    YOLO = "yolo"
    VOC = "voc"
    LABEL_STUDIO = "label-studio"
    CSV = "csv"


class ArchiveKind(models.TextChoices):
    ZIP = "zip"
    TAR = "tar"


class ExportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(models.Model):
    """One export of a dataset version into a downloadable archive (activelearning/datasets/exports.py).

    The archive is deterministic (member order, headers, key order), so a retried job writes the same bytes
    and `sha256` identifies the content whoever ran it."""

    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    archive = models.CharField(max_length=8, choices=ArchiveKind.choices, default=ArchiveKind.ZIP)
    include_images = models.BooleanField(default=True)
    image_root = models.CharField(
        max_length=500, blank=True,
        help_text="Label Studio export: where Label Studio finds the images (e.g. `s3://bucket/loupe/images` or "
                  "`/data/local-files/?d=loupe/images`); each task's data.image is this + `/` + the file name. "
                  "Empty: `images/<name>` inside the archive.")
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    file = models.FileField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1),
                                              name="export_progress_in_unit")]

    def __str__(self) -> str:
        return f"export {self.pk} of dataset {self.dataset_version_id} as {self.format}: {self.status}"
