"""Reads for retention: a project's legal holds and its last prune runs."""

from __future__ import annotations

from typing import Any

from activelearning.retention.models import LegalHold, RetentionRun
from annotations.errors import NotFound
from annotations.models import Project, Site


def legal_holds(project: Project) -> list[dict[str, Any]]:
    """The project's sites under legal hold, by site name."""
    holds = LegalHold.objects.filter(site__project=project).select_related("site", "held_by").order_by("site__name")
    return [{"site": hold.site_id, "site_name": hold.site.name, "reason": hold.reason,
             "held_by": hold.held_by.get_username(), "held_at": hold.held_at} for hold in holds]


def last_run(project: Project, *, dry_run: bool) -> RetentionRun | None:
    """The project's latest real run (or dry run), None if it never had one."""
    return RetentionRun.objects.filter(project=project, dry_run=dry_run).order_by("-started_at", "-pk").first()


def project_site(project: Project, site_id: int) -> Site:
    """The project's site `site_id`; 404 for a site of another project or none."""
    site = Site.objects.filter(project=project, pk=site_id).select_related("project").first()
    if site is None:
        raise NotFound("Not found.")
    return site
