"""The registry's background jobs: server pre-labels, shadow evaluations. Thin shells over services (STYLE.md)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from activelearning.registry.evaluation import run_evaluation
from activelearning.registry.prelabel_sweep import sweep_missed_prelabels
from activelearning.registry.prelabels import StorageUnavailable, prelabel_items


@shared_task(name="registry.prelabel_items", acks_late=True, ignore_result=True,
             # The media store away (restarting): the batch again later; the items done so far are skipped.
             autoretry_for=(StorageUnavailable,), retry_backoff=2, retry_backoff_max=60, max_retries=30)
def prelabel_items_task(*, item_ids: list[int]) -> dict[str, int]:
    """Server pre-labels for newly queued items; each item runs at most once per model version."""
    return prelabel_items(item_ids=item_ids)


@shared_task(name="registry.sweep_prelabels", acks_late=True, ignore_result=True)
def sweep_prelabels_task() -> int:
    """Beat: send again the pre-label jobs a crashed process never sent (prelabel_sweep.py)."""
    return sweep_missed_prelabels(older_than=timedelta(seconds=settings.LOUPE_PRELABEL_SWEEP_SECONDS))


@shared_task(name="registry.evaluate", acks_late=True, ignore_result=True)
def evaluate_model_task(*, evaluation_id: int) -> None:
    """Shadow evaluation of one model against the champion on the held-out frames."""
    run_evaluation(evaluation_id=evaluation_id)
