"""Background jobs are asked for by name (activelearning/jobs.py): every name asked for, in the code or the beat
schedule, must be a registered task, or the work would be lost at run time, not at start."""

from __future__ import annotations

import ast
import pathlib

import pytest
from celery import current_app
from django.conf import settings
from django.db import transaction

from activelearning import jobs
from activelearning.apps import PARTS_WITH_JOBS

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _names_asked_for() -> set[tuple[str, str]]:
    """(file, name) of every `jobs.kick("…")` / `jobs.send("…")` in the server's code."""
    asked = set()
    for package in ("annotations", "reviewer", "activelearning"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "jobs"
                        and node.func.attr in {"kick", "send"}):
                    first = node.args[0]
                    assert isinstance(first, ast.Constant), f"{path}: a job is named by a literal, not {first}"
                    asked.add((str(path.relative_to(ROOT)), first.value))
    return asked


def test_every_job_asked_for_and_every_beat_entry_is_a_registered_task():
    asked = _names_asked_for()
    assert {name for _, name in asked} >= {"registry.prelabel_items", "registry.evaluate", "datasets.export",
                                           "training.run", "training.gate", "training.dispatch_requests",
                                           "webhooks.deliver"}
    beat = {(f"beat:{key}", entry["task"]) for key, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    missing = [(where, name) for where, name in sorted(asked | beat) if name not in current_app.tasks]
    assert missing == []


def test_every_learning_task_carries_an_explicit_short_name():
    """A name derived from the module path would change with a move and strand queued work."""
    ours = [task for name, task in current_app.tasks.items() if task.__module__.startswith("activelearning.")
            and task.__module__ != "activelearning.legacy_task_names"]
    assert {task.__module__.split(".")[1] for task in ours} == set(PARTS_WITH_JOBS)
    assert all(not task.name.startswith("activelearning.") for task in ours), [task.name for task in ours]


def test_an_unknown_job_name_fails_loudly():
    with pytest.raises(KeyError):
        jobs.send("training.no_such_job")


@pytest.mark.django_db(transaction=True)
def test_a_kicked_job_is_sent_after_commit_and_never_after_a_rollback(monkeypatch):
    sent: list[dict[str, int]] = []
    monkeypatch.setattr(jobs.job("datasets.export"), "delay", lambda **kwargs: sent.append(kwargs))
    with transaction.atomic():
        jobs.kick("datasets.export", job_id=1)
        assert sent == []  # not while the row it names is uncommitted
    assert sent == [{"job_id": 1}]
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.kick("datasets.export", job_id=2)
        raise RuntimeError("rolled back")
    assert sent == [{"job_id": 1}]


def test_a_message_queued_under_a_name_from_before_the_split_still_runs_its_job(monkeypatch):
    from activelearning.legacy_task_names import RENAMED

    assert set(RENAMED.values()) <= set(current_app.tasks)
    ran: list[dict[str, int]] = []
    monkeypatch.setattr(jobs.job("datasets.export"), "run", lambda **kwargs: ran.append(kwargs))
    current_app.tasks["activelearning.tasks.export_dataset_task"].apply(kwargs={"job_id": 7})
    assert ran == [{"job_id": 7}]
