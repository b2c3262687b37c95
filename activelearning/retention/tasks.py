"""Retention's background job: the daily prune."""

from __future__ import annotations

from celery import shared_task

from activelearning.retention.services import prune_everywhere


@shared_task(name="retention.prune", acks_late=True, ignore_result=True)
def prune_task(*, project_id: int | None = None, dry_run: bool = False) -> dict[int, int]:
    """Prune every project with a policy (beat, daily), or one; bytes freed per project. A re-delivered or
    overlapping run deletes nothing twice: each run plans from what is still there, and byte deletion is
    idempotent."""
    return prune_everywhere(dry=dry_run, project_id=project_id)
