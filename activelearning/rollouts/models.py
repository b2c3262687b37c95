"""Staged rollouts of a model and pins of a device or site to a model version (docs/rollouts.md). The telemetry
samples the gates read are `activelearning.health`'s."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Device, Project, Site


class RolloutStatus(models.TextChoices):
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"  # a gate failed: the canary went back to the champion
    ABORTED = "aborted"  # an admin stopped it: the same effect
    COMPLETED = "completed"  # the model became champion


ACTIVE = (RolloutStatus.RUNNING, RolloutStatus.PAUSED)


class Rollout(models.Model):
    """A model on its way to champion, stage by stage. While it is active, the devices of its current stage (and
    every earlier one) are offered `model`; the others keep `previous` (the champion when it started). It ends
    completed (the model is promoted to champion), halted or aborted (everyone is on the champion again)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rollouts")
    model = models.ForeignKey("activelearning.ModelVersion", on_delete=models.CASCADE, related_name="rollouts")
    previous = models.ForeignKey("activelearning.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", help_text="The champion when the rollout started.")
    stages = models.JSONField(help_text="[{devices, sites, percent, soak_minutes}], cumulative.")
    gates = models.JSONField(default=list, blank=True, help_text="[{metric, comparison, tolerance}].")
    status = models.CharField(max_length=16, choices=RolloutStatus.choices, default=RolloutStatus.RUNNING)
    stage_index = models.PositiveIntegerField(default=0)
    stage_started_at = models.DateTimeField()
    last_evaluation = models.JSONField(default=dict, blank=True, help_text="The gates' figures at the last check.")
    halt_reason = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Two active rollouts would disagree about what a device runs.
            models.UniqueConstraint(fields=["project"], condition=Q(status__in=["running", "paused"]),
                                    name="rollout_one_active_per_project"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"rollout {self.pk} of model {self.model_id}: {self.status} at stage {self.stage_index}"


class ModelPin(models.Model):
    """A device or a whole site held on one model version of the project, whatever the rollout or champion."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_pins")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    model = models.ForeignKey("activelearning.ModelVersion", on_delete=models.CASCADE, related_name="pins")
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(device__isnull=False, site__isnull=True)
                                   | Q(device__isnull=True, site__isnull=False), name="pin_device_xor_site"),
            models.UniqueConstraint(fields=["device"], condition=Q(device__isnull=False), name="pin_once_per_device"),
            models.UniqueConstraint(fields=["site"], condition=Q(site__isnull=False), name="pin_once_per_site"),
        ]

    def __str__(self) -> str:
        return f"pin of {'device ' + str(self.device_id) if self.device_id else 'site ' + str(self.site_id)}"
