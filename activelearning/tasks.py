"""Celery tasks: thin shells over services (STYLE.md). Eager in the embedded mode (no REDIS_URL)."""

from __future__ import annotations

from celery import shared_task

from activelearning.prelabeling import prelabel_items


@shared_task(acks_late=True, ignore_result=True)
def prelabel_items_task(*, item_ids: list[int]) -> dict[str, int]:
    """Server pre-labels for newly queued items; each item runs at most once per model version."""
    return prelabel_items(item_ids=item_ids)


def enqueue_prelabels(*, project_id: int, item_ids: list[int]) -> None:
    """Call inside the transaction that created the items: the task is sent after it commits. Nothing is sent
    when the project has no champion in service (the task would skip every item: one indexed probe here saves
    a task, and in the embedded mode the items' reload, on every ingest batch)."""
    from django.db import transaction

    from activelearning.prelabeling import serving_model

    if item_ids and serving_model(project_id) is not None:
        transaction.on_commit(lambda: prelabel_items_task.delay(item_ids=list(item_ids)))


@shared_task(acks_late=True, ignore_result=True)
def evaluate_model_task(*, evaluation_id: int) -> None:
    """Shadow evaluation of one model against the champion on the held-out frames."""
    from activelearning.evaluation import run_evaluation

    run_evaluation(evaluation_id=evaluation_id)


@shared_task(acks_late=True, ignore_result=True)
def dispatch_retrain_task() -> list[int]:
    """Work off the retrain outbox (sent after a trigger commits, and every minute by beat as a sweep)."""
    from activelearning.retraining import dispatch_retrain_requests

    return dispatch_retrain_requests()


@shared_task(acks_late=True, ignore_result=True)
def start_training_task(*, run_id: int) -> None:
    from activelearning.training import run_training

    run_training(run_id=run_id)


@shared_task(acks_late=True, ignore_result=True)
def fail_stale_runs_task() -> list[int]:
    from activelearning.training import fail_stale_runs

    return fail_stale_runs()


@shared_task(acks_late=True, ignore_result=True)
def gate_candidate_task(*, model_id: int, run_id: int) -> None:
    from activelearning.gate import gate_candidate

    gate_candidate(model_id=model_id, run_id=run_id)


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhooks_task() -> dict[str, int]:
    """Work off the webhook outbox (sent after an event commits, and every 30 s by beat as a sweep)."""
    from activelearning.webhooks import deliver_due

    return deliver_due()


def start_training(run_id: int) -> None:
    """After the dispatch commits: a worker takes it; in the embedded mode (eager tasks) a background thread
    does, so the request that crossed the threshold does not wait for a training."""
    from django.conf import settings

    from config.celery import app

    if not settings.LOUPE_TRAINING_AUTOSTART:
        return
    if app.conf.task_always_eager:
        import threading

        threading.Thread(target=_train_in_thread, args=(run_id,), daemon=True, name=f"training-{run_id}").start()
    else:
        start_training_task.delay(run_id=run_id)


@shared_task(acks_late=True, ignore_result=True)
def export_dataset_task(*, job_id: int) -> None:
    """Write one export's archive; a redelivered task starts over and writes the same bytes."""
    from activelearning.exports import run_export

    run_export(job_id=job_id)


def _train_in_thread(run_id: int) -> None:
    """The embedded mode's stand-in for a worker: run the training, then give the thread's connection back."""
    from django.db import connection

    from activelearning.training import run_training

    try:
        run_training(run_id=run_id)
    finally:
        connection.close()


@shared_task(acks_late=True, ignore_result=True)
def compute_drift_task() -> dict[int, int]:
    """Recompute drift for every enabled project (beat, every 15 minutes); alerts fire on transitions only, so a
    re-delivered or overlapping run alerts nothing twice."""
    from activelearning.drift import compute_drift_everywhere

    return compute_drift_everywhere()
