"""The Label Studio link's background job: the sync round (poll, confirm pushes, renew media links, auto-push)."""

from __future__ import annotations

from celery import shared_task

from activelearning.labelstudio.services import sync_due


@shared_task(name="labelstudio.sync", acks_late=True, ignore_result=True)
def sync_labelstudio_task() -> dict[str, int]:
    """Every LOUPE_LABELSTUDIO_POLL_SECONDS by beat: each link not backing off."""
    return sync_due()
