"""Drift policy and the per-camera drift state."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Project


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
