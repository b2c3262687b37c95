"""The rollouts' background job: checking every running rollout's gates (beat, every minute)."""

from __future__ import annotations

from celery import shared_task

from activelearning.rollouts.services import evaluate_active


@shared_task(name="rollouts.evaluate", acks_late=True, ignore_result=True)
def evaluate_rollouts_task() -> dict[int, str]:
    """Each running rollout: halt, advance or wait. Overlapping runs are safe: each stage change locks its row
    and re-reads it, so a stage moves once."""
    return evaluate_active()
