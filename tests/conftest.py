"""Shared test setup: media in a temporary folder per test, and the PostgreSQL requirement for CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import DeviceKit, make_device_kit
from tests.labelstudio_server import label_studio  # noqa: F401  (a session fixture for every test)


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Path, settings: Any) -> Iterator[Path]:
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    settings.LOUPE_UPLOAD_TMP_DIR = media / ".upload-tmp"
    yield media


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings: Any) -> None:
    """Each test starts with no request counted (a namespace of its own in the real cache, Redis when
    REDIS_URL is set): the limits stay the real ones, only earlier tests' requests are not held against it."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


@pytest.fixture
def postgres() -> None:
    """Mark a test as needing PostgreSQL: it fails under REQUIRE_POSTGRES=1 and only skips on laptops."""
    if connection.vendor == "postgresql":
        return
    if settings.REQUIRE_POSTGRES or os.environ.get("CI"):
        pytest.fail("this test needs PostgreSQL (DATABASE_URL) and REQUIRE_POSTGRES/CI is set")
    pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI always does)")


@pytest.fixture
def kit(db: None) -> DeviceKit:
    return make_device_kit()


@pytest.fixture(autouse=True)
def _celery_eager() -> Iterator[None]:
    """Tasks run in the test's process, as in the embedded mode, even when REDIS_URL names a broker."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _no_training_autostart(settings: Any) -> None:
    """A dispatched training does not start on its own in tests: the training tests run it themselves."""
    settings.LOUPE_TRAINING_AUTOSTART = False


@pytest.fixture(autouse=True)
def _fresh_model_offers() -> None:
    """Each test starts without the per-process model offers: SQLite can reuse a rolled-back model's id."""
    from activelearning.rollouts.decision import forget_offers

    forget_offers()


@pytest.fixture(scope="session", autouse=True)
def _flush_only_the_tables_that_hold_rows() -> Iterator[None]:
    """A transactional test's teardown empties the database (Django's `flush`): on PostgreSQL one TRUNCATE of every
    table (~100), 0.15 s each time whatever the test wrote. Here it deletes the rows of the tables that hold any
    (found in one statement), with the triggers and foreign-key checks off for that transaction
    (session_replication_role: a superuser's setting, as TRUNCATE skips them too), ~0.01 s. The database ends as
    empty as before; the post-migrate content types and permissions are made again as before."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush
    superuser: list[bool] = []  # asked of the server once, at the first flush

    def sql_flush(ops: DatabaseOperations, style: Any, tables: list[str], *, reset_sequences: bool = False,
                  allow_cascade: bool = False) -> list[str]:
        if not superuser:
            superuser.append(_superuser(ops.connection))
        if not tables or reset_sequences or allow_cascade or not superuser[0]:
            return truncate(ops, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        with ops.connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(
                f"SELECT %s WHERE EXISTS (SELECT FROM {ops.quote_name(table)})"  # noqa: S608  (Django's table names)
                for table in tables), tables)
            holding = [row[0] for row in cursor.fetchall()]
        return ["SET LOCAL session_replication_role = replica",
                *(f"DELETE FROM {ops.quote_name(table)}" for table in holding)]  # noqa: S608  (the same names)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


def _superuser(conn: Any) -> bool:
    with conn.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])
