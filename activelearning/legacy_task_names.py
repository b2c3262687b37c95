"""Task names from before the split into parts (up to 2026-12): a message already queued under one when a
deployment upgrades still runs, under its new name, instead of being dropped as an unregistered task. Beat
and `jobs.kick` only use the new names; remove this once no queue can hold an old message."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from activelearning import jobs

RENAMED = {
    "activelearning.tasks.prelabel_items_task": "registry.prelabel_items",
    "activelearning.tasks.evaluate_model_task": "registry.evaluate",
    "activelearning.tasks.dispatch_retrain_task": "training.dispatch_requests",
    "activelearning.tasks.start_training_task": "training.run",
    "activelearning.tasks.fail_stale_runs_task": "training.fail_stale_runs",
    "activelearning.tasks.gate_candidate_task": "training.gate",
    "activelearning.tasks.deliver_webhooks_task": "webhooks.deliver",
    "activelearning.tasks.export_dataset_task": "datasets.export",
    "activelearning.tasks.compute_drift_task": "monitoring.compute_drift",
}


def _forward(old: str, new: str) -> None:
    @shared_task(name=old, acks_late=True, ignore_result=True)
    def forward(**kwargs: Any) -> Any:
        return jobs.job(new).run(**kwargs)


for _old, _new in RENAMED.items():
    _forward(_old, _new)
