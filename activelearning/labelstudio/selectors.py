"""Reads of the Label Studio link: the project's link, and its status page's numbers."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from activelearning.labelstudio.models import LabelStudioLink, LabelStudioTask, LabelStudioVersion, TaskState
from annotations.models import Project


def project_link(project: Project) -> LabelStudioLink | None:
    return LabelStudioLink.objects.select_related("project", "agent").filter(project=project).first()


def link_status(link: LabelStudioLink) -> dict[str, Any]:
    """What the status page shows: the linked project, tasks by state, versions received, sync and errors."""
    by_state = dict(LabelStudioTask.objects.filter(link=link).values_list("state").annotate(n=Count("id")))
    by_via = dict(LabelStudioVersion.objects.filter(link=link).values_list("via").annotate(n=Count("id")))
    return {
        "linked": True, "url": link.url, "ls_project_id": link.ls_project_id,
        "ls_project_url": f"{link.url}/projects/{link.ls_project_id}/data" if link.ls_project_id else None,
        "loupe_url": link.loupe_url, "auto_push": link.auto_push, "push_filter": link.push_filter,
        "webhooks_enabled": link.webhooks_enabled, "webhook_registered": link.ls_webhook_id is not None,
        "tasks": {"pushed": sum(by_state.values()) - by_state.get(TaskState.DELETED, 0),
                  "pending": by_state.get(TaskState.PUSHED, 0) + by_state.get(TaskState.PUSHING, 0),
                  "unconfirmed": by_state.get(TaskState.PUSHING, 0),
                  "annotated": by_state.get(TaskState.ANNOTATED, 0),
                  "deleted": by_state.get(TaskState.DELETED, 0)},
        "versions": {"webhook": by_via.get("webhook", 0), "poll": by_via.get("poll", 0)},
        "last_sync_at": link.last_sync_at, "poll_cursor": link.poll_cursor,
        "last_error": link.last_error or None, "last_error_at": link.last_error_at,
        "failures": link.failures, "next_attempt_at": link.next_attempt_at,
    }
