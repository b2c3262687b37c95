"""A server process killed in the middle of a stage change (SIGKILL, after the rollout row was written and
before the commit) loses no state: the rollout is at the stage it was, with no audit row of a change that did
not happen, and the next evaluation makes the change once. Real processes on the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from activelearning.registry.models import ModelStatus
from activelearning.rollouts.models import Rollout, RolloutStatus
from activelearning.rollouts.services import evaluate_rollout
from annotations.models import AuditEvent
from tests.activelearning.test_rollouts import STAGES, Fleet, model
from tests.factories import make_project

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def _dsn() -> str:
    s = connection.settings_dict
    return f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} user={s['USER']} dbname={s['NAME']}"


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    """Poll a database condition with a deadline (the wait is for a state, not for a time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_server_killed_mid_stage_change_loses_nothing_and_the_change_happens_once(postgres, tmp_path):
    project = make_project()
    Fleet(project, count=4)  # the devices the rollout is about
    champion, candidate = model(project, 1, ModelStatus.CHAMPION), model(project, 2)
    rollout = Rollout.objects.create(project=project, model=candidate, previous=champion, stages=STAGES, gates=[],
                                     stage_started_at=timezone.now() - timedelta(hours=3))
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}

    with psycopg.connect(_dsn(), autocommit=False) as blocker, psycopg.connect(_dsn(), autocommit=True) as watch:
        # The audit insert comes after the rollout row is updated in the same transaction: holding the audit
        # table stops the evaluator exactly there, mid-change.
        blocker.execute(f"LOCK TABLE {AuditEvent._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        log = (tmp_path / "evaluator.log").open("w")
        evaluator = subprocess.Popen(  # noqa: S603 (our own manage.py, fixed argv)
            [sys.executable, "manage.py", "shell", "-c",
             f"from activelearning.rollouts.services import evaluate_rollout; evaluate_rollout({rollout.pk})"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            backend: list[int] = []

            def blocked_on_audit() -> bool:
                backend[:] = [pid for (pid,) in watch.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE %s",
                    (f"%INSERT INTO \"{AuditEvent._meta.db_table}\"%",)).fetchall()]
                return bool(backend)
            _wait_for(blocked_on_audit, "the evaluator to be mid-change")
            # Mid-change, the evaluator's uncommitted stage is invisible to everyone else.
            assert Rollout.objects.get(pk=rollout.pk).stage_index == 0
            evaluator.send_signal(signal.SIGKILL)
            evaluator.wait(timeout=30)

            # A backend waiting on a lock notices its dead client only when it wakes: let it wake. It cannot
            # commit (the COMMIT would have to come from the killed process), so it rolls back and leaves.
            blocker.rollback()

            def backend_gone() -> bool:
                return watch.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                     (backend[0],)).fetchone() == (0,)
            _wait_for(backend_gone, "PostgreSQL to drop the killed evaluator's transaction")
        finally:
            if evaluator.poll() is None:
                evaluator.kill()
            log.close()

    after_kill = Rollout.objects.get(pk=rollout.pk)
    # Not even the evaluation record of the killed run was kept: it was the same transaction.
    assert (after_kill.stage_index, after_kill.status, after_kill.last_evaluation) == (0, RolloutStatus.RUNNING, {})
    assert not AuditEvent.objects.filter(object_type="rollout").exists()

    assert evaluate_rollout(rollout.pk) == "advance"  # the next beat run: the change, once
    assert Rollout.objects.get(pk=rollout.pk).stage_index == 1
    assert AuditEvent.objects.filter(action="rollout.advanced", object_id=str(rollout.pk)).count() == 1
