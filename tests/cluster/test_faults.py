"""The cluster loses parts while devices send (issue 16, "Cluster fault test"): simulated devices drain events with
their frames through HAProxy while one web is SIGKILLed and restarted, one Celery worker is SIGKILLed in the middle
of a pre-label batch, and the object store is restarted. Afterwards, counted in PostgreSQL and in the bucket: every
event is stored once, every queued item is pre-labelled once, every asset's bytes are in S3 with their sha256, and
nothing failed.

Sizes: LOUPE_CLUSTER_DEVICES × LOUPE_CLUSTER_EVENTS, 4 × 200 here (800 events, about 500 pre-labels: 1-2 minutes
on two cores); the issue's 20,000 events are LOUPE_CLUSTER_EVENTS=5000, by hand. The waits follow the size: they
allow the slowest rates the cluster may show here (below), never a fixed number of seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from activelearning.registry.models import PrelabelRun, PrelabelStatus
from annotations.models import Asset, Prediction, PredictionSource
from deploy.local.cluster import NICE, ROOT, Cluster
from reviewer.models import ReviewItem
from tests.cluster.conftest import s3_client
from tests.cluster.polling import until

pytestmark = pytest.mark.django_db(transaction=True)

DEVICES = int(os.environ.get("LOUPE_CLUSTER_DEVICES", "4"))
EVENTS_PER_DEVICE = int(os.environ.get("LOUPE_CLUSTER_EVENTS", "200"))
# Floors for the waits, about a sixth of what the cluster does at smoke size on two busy cores (ingest with frames
# ~30 events/s, docs/benchmarks.md; pre-labels ~15 items/s), so a slow machine passes and a stall still fails.
MIN_EVENTS_PER_SECOND = 5.0
# Each device renders all its frames before it sends any (edge.cli simulate): ~12 frames/s each, four at once.
MIN_FRAMES_RENDERED_PER_SECOND = 4.0
MIN_PRELABELS_PER_SECOND = 2.5
START_UP_SECONDS = 90.0

SETUP = """
import json
from activelearning.demo.model import install_demo_detector
from annotations.services import create_device
from tests.factories import make_project
project = make_project("cluster-faults")
install_demo_detector(project)  # the champion: every queued item gets a server pre-label
tokens = []
for i in range({n}):
    tokens.append(create_device(project=project, site_name=f"site-{{i}}", camera_names=["door-1"]).token)
print(json.dumps({{"project": project.pk, "tokens": tokens}}))
"""


def broker_app(cluster: Cluster) -> Celery:
    """A Celery client on the cluster's broker (its Redis database and key prefix), to ask workers what runs.
    Never the current app: the tests after this one send their jobs through the project's (eager) app."""
    env = cluster.app_env()
    return Celery(broker=env["REDIS_URL"], set_as_current=False,
                  broker_transport_options={"global_keyprefix": env["LOUPE_CELERY_KEY_PREFIX"]})


def prelabel_running_on(app: Celery, worker: str) -> list[int]:
    """The item ids of the pre-label task `worker` runs now (empty if none)."""
    active = app.control.inspect(destination=[worker], timeout=0.5).active() or {}
    return [item for tasks in active.values() for task in tasks if task["name"] == "registry.prelabel_items"
            for item in task["kwargs"]["item_ids"]]


def start_devices(cluster: Cluster, tokens: list[str], data_root: Path) -> list[subprocess.Popen[bytes]]:
    devices = []
    for index, token in enumerate(tokens):
        # Output to files, not pipes: a device that logs more than a pipe holds would block on its next write.
        out, err = (open(data_root / f"device-{index}.{name}", "w") for name in ("out", "err"))  # noqa: SIM115
        devices.append(subprocess.Popen(  # noqa: S603 (our own device client)
            [NICE, "-n", "5", sys.executable, "-m", "edge.cli", "simulate", "--server", cluster.url,
             "--token", token, "--frames", str(EVENTS_PER_DEVICE), "--seed", str(index), "--batch-size", "50",
             "--run-id", f"dev{index}", "--data-dir", str(data_root / f"device-{index}"), "--timeout", "20"],
            cwd=ROOT, stdout=out, stderr=err, start_new_session=True))
        out.close()
        err.close()
    return devices


def stored_events(project_id: int) -> int:
    return Prediction.objects.filter(project_id=project_id, source=PredictionSource.DEVICE).count()


def seconds_for(events: int) -> float:
    """From the devices' start until `events` are stored, at the slowest rates allowed."""
    return START_UP_SECONDS + EVENTS_PER_DEVICE / MIN_FRAMES_RENDERED_PER_SECOND + events / MIN_EVENTS_PER_SECOND


def test_devices_lose_nothing_while_a_web_a_worker_and_the_object_store_fail(own_cluster: Cluster, tmp_path: Path):
    cluster = own_cluster
    setup = json.loads(cluster.manage("shell", "-c", SETUP.format(n=DEVICES)).strip().splitlines()[-1])
    project_id, tokens = setup["project"], setup["tokens"]
    total = DEVICES * EVENTS_PER_DEVICE
    app = broker_app(cluster)
    started = time.monotonic()
    devices = start_devices(cluster, tokens, tmp_path)
    faults: dict[str, dict[str, Any]] = {}
    try:
        # (a) A web dies with requests in flight, and comes back.
        until("a tenth of the events", lambda: stored_events(project_id) >= total // 10,
              timeout=seconds_for(total // 10))
        cluster.kill("web1")
        faults["web"] = {"at_events": stored_events(project_id)}
        cluster.start_web(1)
        until("HAProxy to see web1 up again", lambda: "web1" in cluster.servers_up(), timeout=30)

        # (b) A worker dies in the middle of a pre-label batch: its task was not acknowledged (acks_late), so it
        # goes back to the queue and another worker does it.
        in_flight = until("a pre-label batch running on worker1",
                          lambda: prelabel_running_on(app, "worker1@" + os.uname().nodename), timeout=120, every=0.05)
        done_before = PrelabelRun.objects.filter(review_item_id__in=in_flight).count()
        cluster.kill("worker1")
        faults["worker"] = {"batch": len(in_flight), "done_before_kill": done_before,
                            "at_events": stored_events(project_id)}
        cluster.start_worker(1)

        # (c) The object store restarts (hard) while frames are being uploaded and read.
        faults["store"] = {"at_events": stored_events(project_id)}
        cluster.kill("store")
        cluster.start_store()

        finish_by = started + seconds_for(total)
        for device in devices:
            device.wait(timeout=max(1.0, finish_by - time.monotonic()))
    finally:
        for device in devices:
            if device.poll() is None:
                os.killpg(device.pid, signal.SIGKILL)
                device.wait()
    ingest_seconds = time.monotonic() - started
    for index, device in enumerate(devices):
        assert device.returncode == 0, (tmp_path / f"device-{index}.err").read_text()[-3000:]
        report = json.loads((tmp_path / f"device-{index}.out").read_text().strip().splitlines()[-1])
        assert (report["sent"], report["rejected"], report["pending"]) == (EVENTS_PER_DEVICE, 0, 0), report
    # The faults really came while the devices were sending.
    assert all(fault["at_events"] < total for fault in faults.values()), faults

    # Every event stored exactly once.
    events = Prediction.objects.filter(project_id=project_id, source=PredictionSource.DEVICE)
    assert events.count() == total
    assert events.values("device_id", "event_id").distinct().count() == total

    # Every queued item pre-labelled exactly once (the killed worker's batch too), none failed.
    items = set(ReviewItem.objects.filter(project_id=project_id).values_list("pk", flat=True))
    assert items and set(in_flight) <= items
    def prelabelled() -> int:
        return PrelabelRun.objects.filter(review_item__project_id=project_id).count()

    until("every queued item to be pre-labelled", lambda: prelabelled() >= len(items),
          timeout=START_UP_SECONDS + (len(items) - prelabelled()) / MIN_PRELABELS_PER_SECOND, every=0.5)
    runs = PrelabelRun.objects.filter(review_item__project_id=project_id)
    assert sorted(runs.values_list("review_item_id", flat=True)) == sorted(items)
    assert not runs.exclude(status=PrelabelStatus.DONE).exists()
    assert Prediction.objects.filter(project_id=project_id, source=PredictionSource.SERVER).count() == len(items)

    # Every asset's bytes are in the bucket, with the sha256 they are stored under.
    s3 = s3_client(cluster)
    assets = list(Asset.objects.filter(holdings__project_id=project_id).values_list("sha256", "file"))
    assert len(assets) == total  # every simulated frame is distinct
    for sha256, name in assets:
        body = s3.get_object(Bucket=cluster.settings.bucket, Key=name)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha256, name
    keys = {obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=cluster.settings.bucket, Prefix="assets/") for obj in page.get("Contents", [])}
    assert {name for _, name in assets} <= keys

    print(f"\ncluster faults: {total} events from {DEVICES} devices in {ingest_seconds:.1f} s, "
          f"{len(items)} items pre-labelled; faults {faults}")
