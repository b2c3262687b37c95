"""The routing policy of each project, versioned."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Project


class RoutingPolicy(models.Model):
    """One version of a project's routing policy, a JSON document (see activelearning/routing/policy.py).

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
