"""The worker's metrics port (config/celery.py): served only when LOUPE_WORKER_METRICS_PORT says where, and a
port that cannot be used costs the scrape, never the worker. The real worker serving its counts is
tests/test_celery_worker.py."""

from __future__ import annotations

import socket

import pytest

from annotations import metrics
from config import celery as celery_config
from config.env import ConfigError, env_port


def test_without_a_port_no_server_is_started(settings, monkeypatch):
    started: list[dict[str, object]] = []
    monkeypatch.setattr(metrics, "serve_counts", lambda **kwargs: started.append(kwargs))
    settings.LOUPE_WORKER_METRICS_PORT = None
    celery_config.serve_worker_metrics()
    assert started == []


def test_with_a_port_the_counts_are_served_there(settings, monkeypatch):
    started: list[dict[str, object]] = []
    monkeypatch.setattr(metrics, "serve_counts", lambda **kwargs: started.append(kwargs))
    settings.LOUPE_WORKER_METRICS_PORT, settings.LOUPE_WORKER_METRICS_ADDR = 9808, "0.0.0.0"  # noqa: S104
    celery_config.serve_worker_metrics()
    assert started == [{"port": 9808, "addr": "0.0.0.0"}]  # noqa: S104


def test_a_port_already_taken_is_logged_and_the_worker_goes_on(settings, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.LOUPE_WORKER_METRICS_PORT = taken.getsockname()[1]
        settings.LOUPE_WORKER_METRICS_ADDR = "127.0.0.1"
        celery_config.serve_worker_metrics()  # no exception
    assert "worker metrics: cannot serve on 127.0.0.1" in caplog.text


@pytest.mark.parametrize("raw", ["abc", "0", "70000", "-1"])
def test_a_malformed_port_is_a_configuration_error(monkeypatch, raw):
    monkeypatch.setenv("LOUPE_WORKER_METRICS_PORT", raw)
    with pytest.raises(ConfigError, match="LOUPE_WORKER_METRICS_PORT"):
        env_port("LOUPE_WORKER_METRICS_PORT")


def test_an_unset_port_is_none(monkeypatch):
    monkeypatch.delenv("LOUPE_WORKER_METRICS_PORT", raising=False)
    assert env_port("LOUPE_WORKER_METRICS_PORT") is None
    monkeypatch.setenv("LOUPE_WORKER_METRICS_PORT", "9808")
    assert env_port("LOUPE_WORKER_METRICS_PORT") == 9808
