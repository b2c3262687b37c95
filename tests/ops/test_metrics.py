"""/metrics: who may read it, that the counts move with real requests, that several server processes add up, and
that every query of the Grafana dashboard names a series the endpoint really exports."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from activelearning.monitoring.models import DriftState
from annotations.metrics import exposition
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import (
    add_member,
    as_user,
    jpeg_bytes,
    make_device_kit,
    make_items,
    prediction_event,
)
from tests.server import ROOT, database_url, free_port

DASHBOARD = ROOT / "deploy" / "grafana" / "loupe.json"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape() -> str:
    return exposition()[0].decode()


# --- who may read it ---------------------------------------------------------------------------------------


def test_development_without_configuration_is_open_on_loopback_only(client, db, settings):
    settings.LOUPE_PRODUCTION = False
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "loupe_ingest_events_total" in response.content.decode()
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 404


def test_production_without_configuration_answers_404(client, db, settings):
    settings.LOUPE_PRODUCTION = True
    assert client.get("/metrics").status_code == 404


def test_a_token_is_required_when_configured(client, db, settings):
    settings.LOUPE_METRICS_TOKEN = "scrape-token-123"
    missing = client.get("/metrics")
    assert (missing.status_code, missing["WWW-Authenticate"]) == (401, 'Bearer realm="metrics"')
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert "loupe_" not in client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").content.decode()
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123", REMOTE_ADDR="192.0.2.7")
    assert ok.status_code == 200


def test_networks_when_configured_and_both_gates_when_both_are(client, db, settings):
    settings.LOUPE_METRICS_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 404
    assert client.get("/metrics").status_code == 404  # loopback is not special once networks are set
    settings.LOUPE_METRICS_TOKEN = "scrape-token-123"
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7",
                      HTTP_AUTHORIZATION="Bearer scrape-token-123").status_code == 404


def test_a_forwarded_address_counts_only_behind_a_trusted_proxy(client, db, settings):
    settings.LOUPE_METRICS_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 404
    settings.LOUPE_TRUSTED_PROXIES = ["192.0.2.7"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200


# --- the counts move with real requests --------------------------------------------------------------------


def test_ingest_claim_and_submit_through_the_api_move_the_counts(db):
    kit = make_device_kit()
    body = jpeg_bytes()
    sha = hashlib.sha256(body).hexdigest()
    assert kit.put_media(body).status_code == 201
    before = scrape()
    events = [prediction_event(f"m{i}", sha) for i in range(3)]
    assert kit.post_events(events).status_code == 200
    assert kit.post_events(events[:2] + [prediction_event("bad", "f" * 64)]).status_code == 200
    add_member(kit.project, "alice", "annotator")
    make_items(kit.project, 1)
    served = as_user("alice").post(f"/api/v1/projects/{kit.project.pk}/queue/claim", {}, format="json").json()
    submitted = as_user("alice").post(f"/api/v1/items/{served['id']}/submit", {
        "lease_token": served["lease_token"], "boxes": [{"label": "person", "box": [1, 2, 30, 40]}],
        "verdict": "confirm"}, format="json")
    assert submitted.status_code == 201
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("loupe_ingest_events_total", result="created") == 3
    assert moved("loupe_ingest_events_total", result="duplicate") == 2
    assert moved("loupe_ingest_events_total", result="rejected") == 1
    assert moved("loupe_claim_seconds_count", found="true") == 1
    assert moved("loupe_submit_seconds_count") == 1
    queue = {dict(labels)["reason"] + "/" + dict(labels)["status"]: v
             for (name, labels), v in samples(after).items() if name == "loupe_review_queue_items"}
    open_items = ReviewItem.objects.exclude(status=ItemStatus.ACCEPTED)
    assert queue == {f"{reason}/{status}": float(open_items.filter(reason=reason, status=status).count())
                     for reason, status in open_items.values_list("reason", "status").distinct()}
    assert queue  # ingest queued some of the events


# --- several processes, and the dashboard ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_uvicorn_workers_add_up_and_the_dashboard_names_only_exported_series(postgres, _media_root, tmp_path):
    kit = make_device_kit()
    camera = kit.device.cameras.get()
    DriftState.objects.create(camera=camera, project=kit.project, psi=0.12)
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_STORAGE": str(_media_root),
           "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "LOUPE_CACHE_KEY_PREFIX": f"test-{port}"}
    server = subprocess.Popen(  # noqa: S603  (fixed argv, our own server)
        [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
         "--no-access-log", "config.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, server)
        headers = {"Authorization": f"Bearer {kit.token}"}
        body = jpeg_bytes(seed=5)
        sha = hashlib.sha256(body).hexdigest()
        assert httpx.put(f"{url}/api/v1/media/{sha}", content=body,
                         headers={**headers, "Content-Type": "image/jpeg"}).status_code == 201
        # One connection per batch, so the kernel spreads them over both processes; until both have counted.
        sent = 0
        for batch in range(200):
            events = [prediction_event(f"w{batch}-{i}", sha) for i in range(5)]
            assert httpx.post(f"{url}/api/v1/events", json={"events": events}, headers=headers).status_code == 200
            sent += len(events)
            if len(processes_that_ingested(multiproc)) >= 2:
                break
        assert len(processes_that_ingested(multiproc)) == 2, "one process took every batch"
        text = httpx.get(f"{url}/metrics").text
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)

    assert value(text, "loupe_ingest_events_total", result="created") == sent
    exported = {name for name, _ in samples(text)}
    assert {"loupe_drift_score", "loupe_celery_queue_length", "loupe_review_queue_items"} <= exported
    missing = {name for name in dashboard_metric_names() if name not in exported}
    assert not missing, f"the dashboard asks for series /metrics does not export: {sorted(missing)}"


def processes_that_ingested(multiproc: Path) -> set[str]:
    """The pids whose own counts file (one per process in multiprocess mode) has stored events."""
    pids = set()
    for path in multiproc.glob("counter_*.db"):
        for key, count, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if '"loupe_ingest_events_total"' in key and '"created"' in key and count > 0:
                pids.add(path.stem.removeprefix("counter_"))
    return pids


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # readiness, not timing
        assert server.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server did not become ready")


PROMQL_FUNCTIONS_AND_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "le", "without", "avg", "max",
                              "min", "count", "on", "ignoring", "group_left", "group_right"}


def dashboard_metric_names() -> set[str]:
    """Every series name in the dashboard's queries: identifiers outside label matchers and grouping clauses.
    Names are compared as Prometheus stores them (a counter's `_total`, a histogram's `_bucket`/`_sum`/`_count`)."""
    names = set()
    for panel in json.loads(Path(DASHBOARD).read_text())["panels"]:
        for target in panel["targets"]:
            expr = re.sub(r"\{[^}]*\}", "", target["expr"])  # label matchers
            expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
            expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
            for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
                if word not in PROMQL_FUNCTIONS_AND_WORDS:
                    names.add(word)
    return names


def test_the_dashboard_parser_finds_every_panels_metric():
    names = dashboard_metric_names()
    assert "loupe_claim_seconds_bucket" in names
    assert "loupe_ingest_events_total" in names
    assert all(name.startswith("loupe_") for name in names), names
