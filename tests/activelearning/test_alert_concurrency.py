"""Two alert sweeps at once, on PostgreSQL with real threads: every silent device gets one open alert and one
`alert.opened` delivery, whichever sweep wins; both then agree the alerts are open, and resolve them once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from activelearning.alerts.models import Alert
from activelearning.alerts.services import sweep
from activelearning.webhooks.models import Webhook, WebhookDelivery
from annotations.models import Device
from annotations.services import create_device
from tests.factories import make_project


def sweeps_at_once(n: int = 2) -> list[dict]:
    barrier, results, errors = threading.Barrier(n), [], []

    def run() -> None:
        try:
            barrier.wait()
            results.append(sweep())
        except Exception as exc:  # noqa: BLE001 (reported below, in the test's thread)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_open_and_resolve_each_alert_once(postgres):
    project = make_project()
    Webhook.objects.create(project=project, url="https://example.com/h", secret="s" * 32,
                           events=["alert.opened", "alert.resolved"])
    for i in range(40):
        create_device(project=project, site_name=f"site-{i % 4}", camera_names=[f"door-{i}"])
    Device.objects.update(last_seen_at=timezone.now() - timedelta(hours=1))

    results = sweeps_at_once()
    assert sum(r["opened"].get("no_heartbeat", 0) for r in results) == 40
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 40
    assert WebhookDelivery.objects.filter(event="alert.opened").count() == 40
    assert len({d.payload["alert"] for d in WebhookDelivery.objects.filter(event="alert.opened")}) == 40

    Device.objects.update(last_seen_at=timezone.now())
    results = sweeps_at_once()
    assert sum(r["resolved"].get("no_heartbeat", 0) for r in results) == 40
    assert not Alert.objects.filter(resolved_at__isnull=True).exists()
    assert WebhookDelivery.objects.filter(event="alert.resolved").count() == 40
