"""Reads for the learning side."""

from __future__ import annotations

from typing import Any

from activelearning.models import RoutingPolicy
from activelearning.policy import DEFAULT_POLICY
from annotations.models import Project


def current_policy(project: Project) -> tuple[int | None, dict[str, Any]]:
    """The policy in force (highest version) and its version; the default document if none was saved."""
    row = (
        RoutingPolicy.objects.filter(project=project)
        .order_by("-version")
        .values_list("version", "document")
        .first()
    )
    if row is None:
        return None, DEFAULT_POLICY
    return row[0], row[1]
