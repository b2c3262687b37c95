"""The registry's background jobs: server pre-labels, shadow evaluations. Thin shells over services (STYLE.md)."""

from __future__ import annotations

from celery import shared_task

from activelearning.registry.evaluation import run_evaluation
from activelearning.registry.prelabels import prelabel_items


@shared_task(name="registry.prelabel_items", acks_late=True, ignore_result=True)
def prelabel_items_task(*, item_ids: list[int]) -> dict[str, int]:
    """Server pre-labels for newly queued items; each item runs at most once per model version."""
    return prelabel_items(item_ids=item_ids)


@shared_task(name="registry.evaluate", acks_late=True, ignore_result=True)
def evaluate_model_task(*, evaluation_id: int) -> None:
    """Shadow evaluation of one model against the champion on the held-out frames."""
    run_evaluation(evaluation_id=evaluation_id)
