"""Projects, where data comes from (sites, cameras, devices), what it is (assets), what models said about it
(predictions), what people said about it (annotation versions), and the audit trail.

Why this file is long: these are the core tables every other part points at, with their constraints and
indexes beside them; splitting them across modules would scatter the data model the rest of the code reads as
one place (docs/architecture.md)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Role(models.TextChoices):
    ADMIN = "admin"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    MANAGER = "manager"
    OPERATOR = "operator"


# Store managers and bus operators see only the sites of their membership.
SCOPED_ROLES = (Role.MANAGER, Role.OPERATOR)


class Project(models.Model):
    """A review programme, e.g. "store people counting", with its label classes and review settings."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    label_classes = models.JSONField(default=list, help_text="Ordered class names, e.g. ['person'].")
    retrain_threshold = models.PositiveIntegerField(default=500)
    consensus_overlap = models.PositiveSmallIntegerField(default=1)
    qa_sample_rate = models.FloatField(default=0.1)
    prelabel_threshold = models.FloatField(
        default=0.5, help_text="Pre-labels scoring at least this are the annotator's starting boxes (kept unless "
                               "deleted); those below are suggestions that count only when accepted.")
    blur_faces = models.BooleanField(
        default=False, help_text="Blur faces in every frame shown to members; only admins may ask for originals.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(qa_sample_rate__gte=0) & Q(qa_sample_rate__lte=1),
                name="project_qa_rate_in_unit_interval",
            ),
            models.CheckConstraint(condition=Q(consensus_overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=Q(prelabel_threshold__gte=0) & Q(prelabel_threshold__lte=1),
                name="project_prelabel_threshold_in_unit_interval",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    """A user's role in a project; managers and operators are further limited to `sites`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    sites: models.ManyToManyField[Site, Site] = models.ManyToManyField(
        "Site", blank=True, related_name="scoped_members"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_one_per_user")]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.project}"


class Site(models.Model):
    """A store, a depot or a bus route: where cameras are."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, default="store", help_text="store, bus, depot, ...")
    timezone = models.CharField(max_length=64, default="UTC")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="site_name_unique_in_project")]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"


class Device(models.Model):
    """An edge box. It authenticates with a bearer token stored only as a sha256 hash."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="devices")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    software_version = models.CharField(max_length=64, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    uptime_seconds = models.BigIntegerField(null=True, blank=True)
    disk_free_bytes = models.BigIntegerField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    dropped_frames = models.BigIntegerField(null=True, blank=True)
    outbox_depth = models.BigIntegerField(null=True, blank=True)
    # What the device's inference runs on, as last reported: {"onnxruntime": "1.17.1", "opset": 17}. A model
    # needing a newer opset is never offered to it (activelearning/rollouts).
    runtime = models.JSONField(default=dict, blank=True)
    inference_ms_p50 = models.FloatField(null=True, blank=True)
    inference_ms_p95 = models.FloatField(null=True, blank=True)
    crashes = models.BigIntegerField(null=True, blank=True, help_text="Crash/watchdog restart counter.")
    inference_fps = models.FloatField(null=True, blank=True)
    memory_used_bytes = models.BigIntegerField(null=True, blank=True)
    memory_total_bytes = models.BigIntegerField(null=True, blank=True)
    disk_total_bytes = models.BigIntegerField(null=True, blank=True)
    outbox_oldest_age_seconds = models.FloatField(null=True, blank=True)
    watchdog_restarts = models.BigIntegerField(null=True, blank=True, help_text="Hung inferences killed (counter).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="device_name_unique_in_project")]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"

    @staticmethod
    def hash_token(token: str) -> str:
        # Tokens are 256-bit random, so a fast hash is enough (no dictionary to guard against).
        return hashlib.sha256(token.encode()).hexdigest()

    @staticmethod
    def new_token() -> str:
        return "ld_" + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Camera(models.Model):
    """A camera at a site, fed by one device; events name it by `name`."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="cameras")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="cameras")
    name = models.CharField(max_length=120)
    status = models.JSONField(default=dict, blank=True, help_text="Last status reported in a heartbeat.")
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="camera_name_unique_in_site")]

    def __str__(self) -> str:
        return f"{self.site}/{self.name}"


class AssetKind(models.TextChoices):
    FRAME = "frame"
    CLIP = "clip"


class Asset(models.Model):
    """A frame or clip, stored once by content hash whatever number of events point at it.

    The row and its file are shared by every project that has the same bytes, but no project sees that:
    a project knows, references and reads an asset only through its own `AssetHolding`.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=AssetKind.choices)
    content_type = models.CharField(max_length=32)
    file = models.FileField(max_length=255)
    size_bytes = models.BigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    fps = models.FloatField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    brightness = models.FloatField(null=True, blank=True, help_text="Mean luma in [0, 1].")
    blur = models.FloatField(null=True, blank=True, help_text="Variance of the Laplacian; low is blurry.")
    uploaded_by = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    media_deleted_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When retention deleted the bytes (no project held it any more); the row stays because "
                  "predictions and annotation versions still name it. A new upload of the same bytes restores them.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="asset_sha256_is_hex"),
            models.CheckConstraint(condition=Q(width__gt=0) & Q(height__gt=0), name="asset_has_size"),
            models.CheckConstraint(
                condition=Q(kind="frame") | (Q(fps__gt=0) & Q(frame_count__gt=0)), name="asset_clip_has_timing"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12]}"


class AssetHolding(models.Model):
    """That a project has an asset: a device of the project uploaded its bytes (the server verified them), or
    the project already referred to it before holdings existed. Existence (HEAD media), references (an event's
    `asset`, an import's image) and reads are decided by this row, never by the global hash alone, so a
    project cannot learn of, point at or see another project's media even when both stored the same bytes."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="asset_holdings")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="holdings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Its index serves every check, which names the project and the asset (or its hash through a join).
        constraints = [models.UniqueConstraint(fields=["project", "asset"], name="asset_held_once_per_project")]

    def __str__(self) -> str:
        return f"{self.asset} held by project {self.project_id}"


class PredictionSource(models.TextChoices):
    DEVICE = "device"
    SERVER = "server"


class Prediction(models.Model):
    """What a model said about an asset (or, for `count` events, about a camera at a time).

    Detections are stored compactly on the row as JSON (label, score, box [x, y, w, h] in pixels,
    track id) rather than one row per box: ingest writes hundreds of thousands of boxes a minute.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="predictions")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, null=True, blank=True, related_name="predictions")
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, null=True, blank=True, related_name="predictions")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="predictions")
    source = models.CharField(max_length=8, choices=PredictionSource.choices, default=PredictionSource.DEVICE)
    event_id = models.CharField(max_length=128, blank=True)
    event_type = models.CharField(max_length=16)
    payload_hash = models.CharField(max_length=64, help_text="sha256 of the canonical event, for id_conflict.")
    captured_at = models.DateTimeField()
    received_at = models.DateTimeField()
    model_name = models.CharField(max_length=120, blank=True)
    model_version = models.CharField(max_length=64, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    frame_index = models.IntegerField(null=True, blank=True)
    detections = models.JSONField(default=list)
    detection_count = models.PositiveIntegerField(default=0)
    count_name = models.CharField(max_length=64, blank=True)
    count_value = models.IntegerField(null=True, blank=True)
    reason = models.CharField(max_length=32, blank=True)
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # Idempotency of device events: re-sends hit this and are reported as duplicates.
            models.UniqueConstraint(
                fields=["device", "event_id"], condition=Q(device__isnull=False), name="prediction_event_once"
            ),
            models.CheckConstraint(condition=Q(count_value__isnull=True) | Q(count_value__gte=0),
                                   name="prediction_count_non_negative"),
            models.CheckConstraint(condition=Q(frame_index__isnull=True) | Q(frame_index__gte=0),
                                   name="prediction_frame_index_non_negative"),
        ]
        indexes = [
            models.Index(fields=["camera", "captured_at"], name="prediction_camera_time"),
            models.Index(fields=["asset"], name="prediction_asset"),
            models.Index(fields=["project", "captured_at"], name="prediction_project_time"),
            # The rollout gates read one model's latest predictions (low-confidence rate, confidence drift).
            models.Index(fields=["project", "model_sha256", "received_at"], name="prediction_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    @property
    def model_display_name(self) -> str:
        """The model's one display name, "<name> v<version>" as on the models page; a device that did not name
        its model shows as "field model" (a server pre-label as "server model"), never as a blank "Model v"."""
        name = self.model_name or ("server model" if self.source == PredictionSource.SERVER else "field model")
        return f"{name} v{self.model_version}" if self.model_version else name


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete an append-only record."""


class AppendOnly:
    """Rows that are written once: history (annotation versions, audit events) is never rewritten."""

    pk: object

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only; store a new one instead")
        super().save(*args, **kwargs)  # type: ignore[misc]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class Verdict(models.TextChoices):
    CONFIRM = "confirm"
    CORRECT = "correct"
    UNUSABLE = "unusable"


class AnnotationOrigin(models.TextChoices):
    PERSON = "person"  # one annotator's submission
    CONSENSUS = "consensus"  # the majority of an overlap round's annotators, box by box (no author)
    REVIEW = "review"  # a QA reviewer's fix of the submitted version, accepted as the ground truth
    REPAIR = "repair"  # Loupe's own fix of a stored version (e.g. boxes clipped to their image; no author)


class Annotation(AppendOnly, models.Model):
    """One version of a person's boxes/count for an asset, an overlap round's consensus, a QA reviewer's fix, or
    Loupe's repair of a stored version. Append-only: a change is a new version."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="annotations")
    review_item_id = models.BigIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations",
                               null=True, blank=True, help_text="Null only for a consensus or repair version.")
    origin = models.CharField(max_length=16, choices=AnnotationOrigin.choices, default=AnnotationOrigin.PERSON)
    source_prediction = models.ForeignKey(
        Prediction, on_delete=models.SET_NULL, null=True, blank=True, related_name="annotations"
    )
    boxes = models.JSONField(default=list)
    count = models.IntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.CORRECT)
    note = models.TextField(blank=True)
    diff = models.JSONField(default=dict, blank=True)
    lease_token = models.CharField(max_length=64, blank=True, help_text="The lease it was submitted under.")
    time_spent_seconds = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asset", "version"], name="annotation_version_unique"),
            # A retried submit (double click, network retry) finds its first version instead of adding one.
            models.UniqueConstraint(fields=["review_item_id", "lease_token"], condition=~Q(lease_token=""),
                                    name="annotation_once_per_lease"),
            models.CheckConstraint(condition=Q(count__isnull=True) | Q(count__gte=0),
                                   name="annotation_count_non_negative"),
            models.CheckConstraint(condition=Q(started_at__isnull=True) | Q(started_at__lte=F("submitted_at")),
                                   name="annotation_started_before_submitted"),
            # A person's version has its author; only a consensus or Loupe's own repair has none.
            models.CheckConstraint(condition=Q(author__isnull=False) | Q(origin__in=["consensus", "repair"]),
                                   name="annotation_author_unless_consensus"),
        ]
        indexes = [
            # The claim query's "never an item the caller already annotated" probe.
            models.Index(fields=["review_item_id", "author"], name="annotation_item_author"),
        ]

    def __str__(self) -> str:
        return f"annotation v{self.version} of {self.asset_id}"



class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: object) -> int:
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")

    def expire(self) -> int:
        """Delete these events because the project's retention policy says they are past keeping: the one way
        audit rows ever go (activelearning/retention), named so that no other code deletes history by accident."""
        deleted, _ = models.QuerySet.delete(self)
        return deleted


class AuditEvent(AppendOnly, models.Model):
    """Who changed what, when, with the state before and after. Append-only."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    actor_device = models.ForeignKey(Device, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "created_at"], name="audit_object"),
            models.Index(fields=["project", "created_at"], name="audit_project_time"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"

