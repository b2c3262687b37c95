"""The production shape of background work: the web process sends a task through Redis to a real
`celery -A config worker` process, which does it against the same database.

Every other test runs tasks eagerly in the test's process (the embedded mode). Here nothing Celery runs in the
test's process: a real server (uvicorn) and a real worker share a Redis database of their own, and the test
only speaks HTTP to the server and reads the database.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from django.contrib.auth.models import User
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from activelearning.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.cluster.polling import until
from tests.factories import add_member, make_project
from tests.http_receiver import receiving
from tests.server import ROOT, LiveServer, database_url, free_port

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "k" * 40
WORKER_AND_SERVER_ENV = {"LOUPE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"}


def broker_url() -> str:
    """A Redis database of its own (emptied first): other tests' servers leave tasks that nobody consumes on
    the default one, and this worker must see only this test's."""
    url = os.environ.get("REDIS_URL", "")
    assert url.startswith("redis://"), "needs REDIS_URL (CI sets it)"
    return re.sub(r"(/\d+)?$", "/15", url, count=1)


@contextmanager
def celery_worker(media_root: Path, *, worker_env: dict[str, str] | None = None,
                  pool: str = "solo") -> Iterator[subprocess.Popen[bytes]]:
    """A real worker on a Redis database of its own (emptied first); `worker_env` goes to the worker only."""
    broker = broker_url()
    redis.Redis.from_url(broker).flushdb()
    worker = subprocess.Popen(  # noqa: S603 (fixed argv: our own worker)
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", pool, "--concurrency", "1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url(), "MEDIA_STORAGE": str(media_root),
                       "REQUIRE_POSTGRES": "1", **WORKER_AND_SERVER_ENV, "REDIS_URL": broker,
                       **(worker_env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)  # its own process group: the prefork pool's children end with it
    try:
        yield worker
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


@contextmanager
def worker_and_server(media_root: Path, *, worker_env: dict[str, str] | None = None,
                      pool: str = "solo") -> Iterator[LiveServer]:
    """A real worker and a real server on a Redis database of their own; `worker_env` goes to the worker only."""
    with celery_worker(media_root, worker_env=worker_env, pool=pool), \
            LiveServer(media_root, env={**WORKER_AND_SERVER_ENV, "REDIS_URL": broker_url()}) as server:
        yield server


@pytest.fixture
def services(postgres: None, _media_root: Path) -> Iterator[LiveServer]:
    with worker_and_server(_media_root) as server:
        yield server


def webhook_api(server: LiveServer) -> tuple[httpx.Client, int]:
    """dana's API client and a project of hers."""
    project = make_project("store-counts")
    add_member(project, "dana", "admin")
    token = Token.objects.create(user=User.objects.get(username="dana"))
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {token.key}"}, timeout=10), project.pk


def test_a_webhook_test_ping_is_sent_by_the_server_through_redis_and_delivered_by_a_real_worker(services):
    arrived = threading.Event()
    received: list[bytes] = []

    def respond(headers: dict[str, str], body: bytes) -> int:
        received.append(body)
        arrived.set()
        return 200

    api, project_id = webhook_api(services)
    with receiving(respond) as port:
        created = api.post(f"/api/v1/projects/{project_id}/webhooks/", json={
            "url": f"http://127.0.0.1:{port}/hooks", "events": ["item.accepted"], "secret": SECRET})
        assert created.status_code == 201, created.text
        ping = api.post(f"/api/v1/webhooks/{created.json()['id']}/test")
        assert ping.status_code == 202 and ping.json()["status"] == "pending"
        # Waiting on other processes: a bounded wait for the receiver, not a timing assertion.
        assert arrived.wait(timeout=60), "the worker never delivered the ping"
    assert len(received) == 1 and b'"event": "ping"' in received[0]
    delivery = WebhookDelivery.objects.get(pk=ping.json()["id"])
    for _ in range(200):  # the worker records the outcome right after the POST returns
        if delivery.status != DeliveryStatus.PENDING:
            break
        arrived.wait(0.05)
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)


def test_a_worker_serves_its_task_counts_on_its_metrics_port(postgres, _media_root, tmp_path):
    """The production shape: a prefork pool whose child does the task, counts shared through
    PROMETHEUS_MULTIPROC_DIR, and the worker's main process serving them on LOUPE_WORKER_METRICS_PORT."""
    metrics_port = free_port()
    (tmp_path / "prom").mkdir()
    worker_env = {"LOUPE_WORKER_METRICS_PORT": str(metrics_port), "LOUPE_WORKER_METRICS_ADDR": "127.0.0.1",
                  "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    answered = threading.Event()

    def refuse(headers: dict[str, str], body: bytes) -> int:
        answered.set()
        return 500  # the delivery fails and is retried later: loupe_webhook_delivery_failures_total{retrying}

    with worker_and_server(_media_root, worker_env=worker_env, pool="prefork") as server, \
            receiving(refuse) as port:
        before = worker_scrape(metrics_port)
        assert failures(before, "retrying") == 0.0
        assert "loupe_review_queue_items" not in before  # the scrape-time states are the web's /metrics' part
        api, project_id = webhook_api(server)
        created = api.post(f"/api/v1/projects/{project_id}/webhooks/", json={
            "url": f"http://127.0.0.1:{port}/hooks", "events": ["item.accepted"], "secret": SECRET})
        assert created.status_code == 201, created.text
        assert api.post(f"/api/v1/webhooks/{created.json()['id']}/test").status_code == 202
        assert answered.wait(timeout=60), "the worker never tried the delivery"
        for _ in range(200):  # the child records the failure right after the POST returns
            if failures(worker_scrape(metrics_port), "retrying") >= 1.0:
                break
            answered.wait(0.05)
        assert failures(worker_scrape(metrics_port), "retrying") == 1.0


def worker_scrape(port: int) -> str:
    """GET the worker's /metrics, waiting for its server to come up (bounded: the worker is starting)."""
    for _ in range(400):
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        except httpx.TransportError:
            threading.Event().wait(0.05)
            continue
        assert response.status_code == 200
        return response.text
    raise AssertionError("the worker never served its metrics port")


def failures(text: str, outcome: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "loupe_webhook_delivery_failures_total" and sample.labels == {"outcome": outcome}:
                return sample.value
    return 0.0


def worker_alive(env: dict[str, str]) -> bool:
    """The worker's liveness probe in deploy/k8s (`loupe-entrypoint worker-alive`)."""
    probe = subprocess.run(["sh", str(ROOT / "deploy" / "entrypoint.sh"), "worker-alive"],  # noqa: S603, S607
                           env={**os.environ, **env}, capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def test_a_hung_worker_fails_its_liveness_probe_and_passes_again_when_it_runs(postgres, _media_root, tmp_path):
    """The worker's event loop touches its liveness file; a stopped worker (SIGSTOP: as a loop stuck for good
    would) lets it age past the probe's limit, and the probe fails until the worker runs again."""
    alive = tmp_path / "worker-alive"
    env = {"LOUPE_WORKER_LIVENESS_FILE": str(alive), "LOUPE_WORKER_LIVENESS_SECONDS": "1",
           "LOUPE_WORKER_LIVENESS_MAX_AGE": "3"}
    assert not worker_alive(env), "no file yet: not alive"
    with celery_worker(_media_root, worker_env=env, pool="threads") as worker:
        until("the worker to touch its liveness file", alive.exists, timeout=60)
        first = alive.stat().st_mtime_ns
        until("the worker to touch it again", lambda: alive.stat().st_mtime_ns > first, timeout=30)
        assert worker_alive(env)
        os.killpg(worker.pid, signal.SIGSTOP)
        try:
            until("the probe to fail while the worker is stopped", lambda: not worker_alive(env), timeout=30)
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        until("the probe to pass once the worker runs again", lambda: worker_alive(env), timeout=30)
