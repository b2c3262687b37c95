"""Background work goes to one queue per kind (CELERY_TASK_ROUTES), and a worker started without `-Q` — `make
run`, the tests, deploy/compose.yaml — still consumes every queue a task can be sent to."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings

EXPECTED = {
    "registry.prelabel_items": "prelabels",
    "registry.evaluate": "training",
    "datasets.export": "exports",
    "training.dispatch_requests": "training",
    "training.run": "training",
    "training.fail_stale_runs": "training",
    "training.gate": "training",
    "webhooks.deliver": "webhooks",
    "monitoring.compute_drift": "celery",  # Celery's default queue
}


def queue_of(task_name: str) -> str:
    return current_app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize(("task_name", "queue"), sorted(EXPECTED.items()))
def test_each_task_is_routed_to_its_queue(task_name, queue):
    assert task_name in current_app.tasks
    assert queue_of(task_name) == queue


def test_every_registered_task_lands_on_a_queue_a_plain_worker_consumes():
    current_app.loader.import_default_modules()
    ours = {name for name in current_app.tasks if not name.startswith("celery.")}
    assert EXPECTED.keys() <= ours
    # With no -Q a worker consumes every queue in CELERY_TASK_QUEUES.
    assert set(current_app.amqp.queues.consume_from) == set(settings.CELERY_TASK_QUEUES)
    assert {queue_of(name) for name in ours} <= set(settings.CELERY_TASK_QUEUES)
