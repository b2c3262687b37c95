"""Background work asked for by name, so services never import tasks (tasks import services).

A service writes its row, then `kick("training.run", run_id=…)`: the job is sent once the transaction commits
(at once outside one), so a worker never looks for a row that is not there yet, and a rollback sends nothing.
Every task is registered under an explicit name (`@shared_task(name="training.run")`): renaming a function never
strands queued work or the beat schedule. In the embedded mode (eager tasks, no broker) the job runs in-process
after the commit; a task marked `embedded_in_thread=True` (a training, webhook deliveries) runs in a daemon
thread instead, so the request that asked for it never waits for it.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Task, current_app
from django.db import connection, transaction


def kick(name: str, **kwargs: Any) -> None:
    """Send job `name` with `kwargs` after the current transaction commits."""
    transaction.on_commit(lambda: send(name, **kwargs))


def send(name: str, **kwargs: Any) -> None:
    """Send job `name` now (callers inside a transaction use `kick`)."""
    task = job(name)
    if current_app.conf.task_always_eager and getattr(task, "embedded_in_thread", False):
        threading.Thread(target=_run_in_thread, args=(task, kwargs), daemon=True, name=name).start()
    else:
        task.delay(**kwargs)


def job(name: str) -> Task:
    """The registered task called `name` (KeyError for a name no task carries: tests/test_jobs.py checks them)."""
    return current_app.tasks[name]


def _run_in_thread(task: Task, kwargs: dict[str, Any]) -> None:
    try:
        task.run(**kwargs)
    finally:
        connection.close()  # the thread's own connection, not left for the garbage collector
