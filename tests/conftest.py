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
