"""Bad configuration stops the real server at start with one paragraph naming the setting, not a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.server import ROOT, free_port


def start(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MEDIA_STORAGE": str(tmp_path / "media"),
                   "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}"),
                   "LOUPE_VAR_DIR": str(tmp_path / "var"), **env}
    return subprocess.run(  # noqa: S603  (fixed argv, our own server)
        [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(free_port()), "config.asgi:application"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False)


def test_unreachable_database_url_is_named_and_the_server_exits(tmp_path):
    ended = start(tmp_path, DATABASE_URL=f"postgres://loupe@127.0.0.1:{free_port()}/loupe")
    assert ended.returncode == 3  # uvicorn's "startup failed"
    assert "Loupe cannot start: DATABASE_URL: the database check failed" in ended.stderr
    assert "Traceback" not in ended.stderr


def test_malformed_redis_url_is_named_and_the_server_exits(tmp_path):
    ended = start(tmp_path, REDIS_URL="redis//localhost:6379")
    assert ended.returncode == 2
    assert "Loupe cannot start: REDIS_URL must be a Redis URL such as redis://localhost:6379/0" in ended.stderr
    assert "Traceback" not in ended.stderr


def test_redis_url_password_is_never_echoed(tmp_path):
    ended = start(tmp_path, REDIS_URL="redis://:hunter2-secret@localhost:notaport/0")
    assert ended.returncode == 2
    assert "REDIS_URL must be a Redis URL" in ended.stderr
    assert "hunter2" not in ended.stderr


def test_media_storage_that_cannot_take_a_file_is_named_and_the_server_exits(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    ended = start(tmp_path, MEDIA_STORAGE=str(tmp_path / "file" / "media"))
    assert ended.returncode == 3
    assert "Loupe cannot start: MEDIA_STORAGE: the media check failed: not writable" in ended.stderr
    assert "Traceback" not in ended.stderr


# --- the Celery side: `celery -A config worker` and beat load the same settings (config/celery.py) --------------


def start_celery(tmp_path, role: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MEDIA_STORAGE": str(tmp_path / "media"),
                   "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}"),
                   "LOUPE_VAR_DIR": str(tmp_path / "var"), **env}
    argv = [sys.executable, "-m", "celery", "-A", "config", role, "--loglevel", "WARNING"]
    if role == "worker":
        argv += ["--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    else:
        argv += ["--schedule", str(tmp_path / "beat-schedule")]
    # A timeout bounds a worker that would start anyway: it would never return, and the test fails with it.
    return subprocess.run(argv, cwd=ROOT, env=environment, capture_output=True, text=True,  # noqa: S603
                          timeout=60, check=False)


@pytest.mark.parametrize(("setting", "raw", "said"), [
    ("LOUPE_CELERY_VISIBILITY_TIMEOUT", "an hour", "LOUPE_CELERY_VISIBILITY_TIMEOUT must be an integer, not 'an hour'"),
    ("LOUPE_WORKER_METRICS_PORT", "98080", "LOUPE_WORKER_METRICS_PORT must be a TCP port between 1 and 65535"),
    ("REDIS_URL", "redis//localhost:6379", "REDIS_URL must be a Redis URL such as redis://localhost:6379/0"),
])
def test_a_malformed_setting_stops_the_celery_worker_with_one_paragraph(tmp_path, setting, raw, said):
    ended = start_celery(tmp_path, "worker", **{setting: raw})
    assert ended.returncode == 2
    assert f"Loupe cannot start: {said}" in ended.stderr
    assert "Traceback" not in ended.stderr
    assert ended.stderr.strip().count("\n") == 0  # one paragraph, nothing else


def test_a_malformed_setting_stops_celery_beat_the_same_way(tmp_path):
    ended = start_celery(tmp_path, "beat", LOUPE_CELERY_VISIBILITY_TIMEOUT="-")
    assert ended.returncode == 2
    assert "Loupe cannot start: LOUPE_CELERY_VISIBILITY_TIMEOUT must be an integer" in ended.stderr
    assert "Traceback" not in ended.stderr
