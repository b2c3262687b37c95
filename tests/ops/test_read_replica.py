"""DATABASE_REPLICA_URL: the dashboards' heavy reads go to the replica alias, and nothing else does.

No real streaming replica runs here: the alias is configured as Django's test mirror of the default database
(`TEST: {"MIRROR": "default"}`, as config/settings.py sets it), a connection of its own to the same test
database. Tests that read through it commit their data first (transactional tests): a separate connection does
not see another's open transaction, just as a replica does not see the primary's.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as dj_settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext

from annotations.dbrouting import REPLICA, reporting_db
from annotations.models import Camera
from tests.factories import add_member, as_user, make_device_kit, make_items
from tests.server import ROOT, free_port


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The replica alias for this module's tests, added once the test database exists (so no test database is
    created for it) and pointing where the default one is, as the test mirror does. Module-scoped so it exists
    before each test's database setup, which must allow it (`databases` below)."""
    config = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    config["TEST"] = {**config.get("TEST", {}), "MIRROR": DEFAULT_DB_ALIAS}
    config["OPTIONS"] = {key: value for key, value in config.get("OPTIONS", {}).items() if key != "pool"}
    dj_settings.DATABASES[REPLICA] = connections.settings[REPLICA] = config
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    connections.settings.pop(REPLICA, None)
    dj_settings.DATABASES.pop(REPLICA, None)  # (the same dict as connections.settings, as it happens)


pytestmark = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])


@pytest.fixture
def replica(postgres) -> BaseDatabaseWrapper:
    return connections[REPLICA]


def statements(context: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in context.captured_queries]


@pytest.fixture
def store(replica) -> dict[str, Any]:
    kit = make_device_kit()
    add_member(kit.project, "bob", "admin")
    add_member(kit.project, "alice", "annotator")
    make_items(kit.project, 3)
    return {"project": kit.project, "camera": Camera.objects.get(site__project=kit.project)}


def test_without_a_replica_the_dashboards_read_the_primary(monkeypatch):
    monkeypatch.delitem(connections.settings, REPLICA)
    assert reporting_db() == DEFAULT_DB_ALIAS


def test_the_dashboard_stats_are_read_from_the_replica(store, replica):
    assert reporting_db() == REPLICA
    project = store["project"]
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        response = as_user("bob").get(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 200, response.content
    assert response.json()["stats"]["pending"] == 3
    aggregates = [sql for sql in statements(on_replica) if "reviewer_reviewitem" in sql]
    assert len(aggregates) >= 3  # queue depth by reason, the other queue figures, agreement and accepted
    assert any('"annotations_annotation"' in sql for sql in statements(on_replica))
    # The membership check and the sections of the apps above stay on the primary; the aggregates do not.
    assert not any("AVG(" in sql or "time_spent_seconds" in sql for sql in statements(on_primary))


def test_the_drift_overview_and_the_counts_chart_are_read_from_the_replica(store, replica):
    project, camera = store["project"], store["camera"]
    with CaptureQueriesContext(replica) as on_replica:
        drift = as_user("bob").get(f"/api/v1/projects/{project.pk}/drift/")
    assert drift.status_code == 200, drift.content
    assert [row["camera"] for row in drift.json()["cameras"]] == [camera.pk]
    assert any('"annotations_camera"' in sql for sql in statements(on_replica))

    start = datetime.now(UTC) - timedelta(hours=2)
    with CaptureQueriesContext(replica) as on_replica:
        chart = as_user("bob").get(f"/api/v1/cameras/{camera.pk}/counts",
                                   {"from": start.isoformat(), "to": datetime.now(UTC).isoformat()})
    assert chart.status_code == 200, chart.content
    assert sum('"annotations_prediction"' in sql for sql in statements(on_replica)) == 2  # series, detections


def test_the_review_flow_reads_and_writes_the_primary_only(store, replica):
    project = store["project"]
    alice = as_user("alice")
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        served = alice.post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json")
        assert served.status_code == 200, served.content
        submitted = alice.post(f"/api/v1/items/{served.json()['id']}/submit", {
            "lease_token": served.json()["lease_token"], "boxes": [{"label": "person", "box": [1, 2, 30, 40]}],
            "verdict": "confirm"}, format="json")
        assert submitted.status_code == 201, submitted.content
    assert statements(on_replica) == []  # read-after-write: the lease and the version it just wrote
    assert any(sql.startswith(("UPDATE", "INSERT")) for sql in statements(on_primary))


def test_readyz_reports_the_replica(store, replica, client):
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.content
    assert answer.json()["checks"]["replica"] == {"status": "ok"}


def test_a_replica_that_does_not_answer_degrades_readyz_but_never_makes_it_fail(replica, client, monkeypatch):
    # The check runs in a thread of its own, whose connection is made from these settings.
    monkeypatch.setitem(connections.settings, REPLICA, {**connections.settings[REPLICA], "HOST": "127.0.0.1",
                                                        "PORT": str(free_port()), "OPTIONS": {"connect_timeout": 1}})
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.content  # reviewers keep working: only the dashboards suffer
    body = answer.json()
    assert body["status"] == "ready" and body["degraded"] == ["replica"]
    assert body["checks"]["replica"]["status"] == "failing"
    assert "127.0.0.1" not in answer.content.decode()


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    script = ("import django, json; django.setup(); from django.conf import settings; "
              "print(json.dumps({alias: d.get('TEST', {}).get('MIRROR') for alias, d in settings.DATABASES.items()}))")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,  # noqa: S603
                          text=True, timeout=60, check=False,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env})


def test_the_replica_alias_is_configured_from_database_replica_url_as_a_test_mirror(replica):
    primary = os.environ["DATABASE_URL"]
    ended = settings_with(DATABASE_REPLICA_URL=primary.replace("127.0.0.1", "replica.internal"))
    assert ended.returncode == 0, ended.stderr
    assert json.loads(ended.stdout) == {"default": None, "replica": "default"}
    unset = settings_with(DATABASE_REPLICA_URL="")
    assert json.loads(unset.stdout) == {"default": None}


def test_a_replica_for_sqlite_is_refused_at_start(tmp_path):
    ended = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True,  # noqa: S603
                           text=True, timeout=60, check=False,
                           env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                                "REQUIRE_POSTGRES": "0", "DATABASE_REPLICA_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}"})
    assert ended.returncode == 2
    assert "DATABASE_REPLICA_URL is for a PostgreSQL replica" in ended.stderr
    assert "Traceback" not in ended.stderr
