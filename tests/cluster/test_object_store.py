"""The object store as the operator meets it: `/readyz` names `media` while the S3 server is down and is ready
again when it returns (the UI stays up: `/healthz` answers throughout), and a web started against a bucket that
does not exist stops at once with a message naming the bucket, not a stack trace."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from deploy.local.cluster import ROOT, Cluster
from tests.cluster.polling import until
from tests.server import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def readyz(cluster: Cluster) -> httpx.Response:
    return httpx.get(cluster.web_url(1) + "/readyz", timeout=10)


def test_readyz_names_the_object_store_while_it_is_down_and_recovers(cluster: Cluster):
    ready = readyz(cluster)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["media"]["status"] == "ok"

    cluster.kill("store")
    down = until("/readyz fails", lambda: (r := readyz(cluster)).status_code == 503 and r)
    assert "media" in down.json()["failing"], down.text
    assert set(down.json()["failing"]) <= {"media"}  # the database and Redis are still fine
    assert httpx.get(cluster.web_url(1) + "/healthz", timeout=10).status_code == 200

    cluster.start_store()
    until("/readyz ready again", lambda: readyz(cluster).status_code == 200)


def test_a_web_started_against_a_missing_bucket_stops_with_a_message_naming_it(cluster: Cluster):
    env = {**cluster.app_env(), "MEDIA_STORAGE": "s3://no-such-bucket-here"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(free_port()),
         "config.asgi:application"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "no-such-bucket-here" in output and "does not exist" in output, output
    assert "Traceback" not in output, output
