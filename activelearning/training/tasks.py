"""Training's background jobs: the retrain outbox, runs, stale-run sweeps, the promotion gate."""

from __future__ import annotations

from celery import shared_task

from activelearning.training.gate import gate_candidate
from activelearning.training.runs import fail_stale_runs, run_training
from activelearning.training.threshold import dispatch_retrain_requests


@shared_task(name="training.dispatch_requests", acks_late=True, ignore_result=True)
def dispatch_retrain_task() -> list[int]:
    """Work off the retrain outbox (sent after a trigger commits, and every minute by beat as a sweep)."""
    return dispatch_retrain_requests()


# Embedded mode: in a thread, so the request that crossed the threshold does not wait for a training.
@shared_task(name="training.run", acks_late=True, ignore_result=True, embedded_in_thread=True)
def start_training_task(*, run_id: int) -> None:
    run_training(run_id=run_id)


@shared_task(name="training.fail_stale_runs", acks_late=True, ignore_result=True)
def fail_stale_runs_task() -> list[int]:
    return fail_stale_runs()


@shared_task(name="training.gate", acks_late=True, ignore_result=True)
def gate_candidate_task(*, model_id: int, run_id: int) -> None:
    gate_candidate(model_id=model_id, run_id=run_id)
