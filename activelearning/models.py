"""Learning-side records: the versioned routing policy of each project."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotations.models import Project


class RoutingPolicy(models.Model):
    """One version of a project's routing policy, a JSON document (see activelearning/policy.py).

    Versions are immutable; editing stores a new version and the highest version is in force.
    Each ReviewItem records the version that queued it.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="routing_policies")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="policy_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="policy_version_positive"),
        ]
        ordering = ["project", "-version"]

    def __str__(self) -> str:
        return f"{self.project.slug} policy v{self.version}"


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


class DatasetVersion(models.Model):
    """An immutable, content-hashed manifest of accepted annotations with a stable train/val/test split.

    The manifest is its DatasetEntry rows: (asset, accepted annotation version, split, slices). Annotation
    versions are append-only, so the boxes are frozen by reference and exports stream them from there."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dataset_versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    request = models.OneToOneField(RetrainRequest, on_delete=models.PROTECT, null=True, blank=True,
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


class TrainerBackend(models.TextChoices):
    REFERENCE = "reference"  # activelearning/trainers/reference.py (torch), in a Celery worker
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
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="training_runs")
    request = models.OneToOneField(RetrainRequest, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="training_run")
    backend = models.CharField(max_length=16, default="reference")
    status = models.CharField(max_length=16, choices=TrainingStatus.choices, default=TrainingStatus.QUEUED)
    log = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True,
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
    """One export of a dataset version into a downloadable archive (activelearning/exports.py).

    The archive is deterministic (member order, headers, key order), so a retried job writes the same bytes
    and `sha256` identifies the content whoever ran it."""

    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    archive = models.CharField(max_length=8, choices=ArchiveKind.choices, default=ArchiveKind.ZIP)
    include_images = models.BooleanField(default=True)
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


class WebhookEvent(models.TextChoices):
    """What a project's webhook can subscribe to (API.md, "Webhooks")."""

    ITEM_ACCEPTED = "item.accepted"
    THRESHOLD_REACHED = "threshold.reached"
    TRAINING_FINISHED = "training.finished"
    MODEL_PROMOTED = "model.promoted"
    DRIFT_ALERT = "drift.alert"


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
    worked off by `activelearning.webhooks.deliver_due`; also the delivery log. `event_id` is the receiver's
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


class DriftPolicy(models.Model):
    """When a project's cameras count as drifting (DESIGN.md, "Drift"); absent: the field defaults apply.

    The reference window is the `reference_window_days` right before the current window, not a frozen period
    (e.g. the champion's first days): devices take a new champion over the air at different times, and a
    rolling baseline compares each camera with its own recent past under whatever model it runs, so a model
    update or a re-aimed camera stops alerting once it is the new normal. Slow drift that a rolling baseline
    absorbs is what the other two signals catch: the correction rate and the count error are measured against
    people, not against a baseline.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    enabled = models.BooleanField(default=True, help_text="The periodic sweep computes this project's drift.")
    psi_threshold = models.FloatField(default=0.2, help_text="Alert when the confidence PSI reaches this.")
    correction_rate_threshold = models.FloatField(
        default=0.5, help_text="Alert when this share of accepted reviews changed the model's boxes or count.")
    count_error_threshold = models.FloatField(
        default=2.0, help_text="Alert when the mean |observed − model| count of manager flags reaches this.")
    min_boxes = models.PositiveIntegerField(default=200, help_text="Box scores each window needs for a PSI.")
    min_reviews = models.PositiveIntegerField(default=20, help_text="Accepted reviews needed for a correction rate.")
    min_flags = models.PositiveIntegerField(default=3, help_text="Count flags needed for a count error.")
    current_window_hours = models.PositiveIntegerField(default=24)
    reference_window_days = models.PositiveIntegerField(default=7, help_text="The days before the current window.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(psi_threshold__gt=0), name="drift_psi_threshold_positive"),
            models.CheckConstraint(condition=Q(correction_rate_threshold__gt=0) & Q(correction_rate_threshold__lte=1),
                                   name="drift_correction_threshold_in_unit"),
            models.CheckConstraint(condition=Q(count_error_threshold__gt=0), name="drift_count_threshold_positive"),
            models.CheckConstraint(condition=Q(min_boxes__gte=1) & Q(min_reviews__gte=1) & Q(min_flags__gte=1),
                                   name="drift_min_samples_positive"),
            models.CheckConstraint(condition=Q(current_window_hours__gte=1) & Q(reference_window_days__gte=1),
                                   name="drift_windows_positive"),
        ]

    def __str__(self) -> str:
        return f"drift policy of {self.project_id}"


class DriftMetric(models.TextChoices):
    PSI = "psi"
    CORRECTION_RATE = "correction_rate"
    COUNT_ERROR = "count_error"


class DriftState(models.Model):
    """A camera's last drift computation and which metrics are alerting since when.

    `alerting` maps a metric to the ISO time it started alerting; an alert fires only when a metric enters it,
    and the metric re-arms when a computation finds it back under its threshold. A metric without enough
    samples keeps its state: no evidence either way. The row lock orders concurrent computations.
    """

    camera = models.OneToOneField("annotations.Camera", on_delete=models.CASCADE, primary_key=True,
                                  related_name="drift_state")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField(null=True, blank=True)
    psi = models.FloatField(null=True, blank=True, help_text="None: too few box scores in a window.")
    correction_rate = models.FloatField(null=True, blank=True, help_text="None: too few accepted reviews.")
    count_error = models.FloatField(null=True, blank=True, help_text="None: too few count flags.")
    boxes_reference = models.PositiveIntegerField(default=0)
    boxes_current = models.PositiveIntegerField(default=0)
    reviews = models.PositiveIntegerField(default=0, help_text="Accepted reviews in the current window.")
    corrections = models.PositiveIntegerField(default=0)
    flags = models.PositiveIntegerField(default=0, help_text="Count flags raised in the current window.")
    histogram_reference = models.JSONField(default=list, blank=True)
    histogram_current = models.JSONField(default=list, blank=True)
    alerting = models.JSONField(default=dict, blank=True, help_text="metric → ISO time it started alerting")
    last_alert_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project"], name="drift_state_project")]

    def __str__(self) -> str:
        return f"drift of camera {self.camera_id}: {sorted(self.alerting) or 'ok'}"
