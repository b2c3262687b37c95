"""Two real prunes of one project at the same moment (the daily job and the command), both planned before
either deletes: between them they delete each asset once, and neither reports what the other deleted (real
threads on the real PostgreSQL)."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from activelearning.retention.models import RetentionPolicy, RetentionRun
from activelearning.retention.services import plan_prune, prune_project
from annotations.models import Asset, AssetHolding
from tests.factories import jpeg_bytes, make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_prunes_at_once_delete_each_asset_once(postgres):
    kit = make_device_kit(make_project("store-counts"))
    assets = []
    for seed in range(6):
        body = jpeg_bytes(seed=seed)
        assert kit.put_media(body).status_code == 201
        assets.append(Asset.objects.get(sha256=hashlib.sha256(body).hexdigest()))
    AssetHolding.objects.update(created_at=timezone.now() - timedelta(days=100))
    RetentionPolicy.objects.create(project=kit.project, unreviewed_media_days=30)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def prune() -> None:
        try:
            plan = plan_prune(project=kit.project)
            barrier.wait()  # both plans list every asset before either run deletes
            prune_project(project=kit.project, plan=plan)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=prune) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    reports = [run.report for run in RetentionRun.objects.filter(dry_run=False)]
    assert len(reports) == 2
    removed = [sha for report in reports for sha in report["holdings_removed"]]
    assert sorted(removed) == sorted(a.sha256 for a in assets)  # each once, across both runs
    assert sum(report["bytes_freed"] for report in reports) == sum(a.size_bytes for a in assets)
    assert not AssetHolding.objects.exists()
    assert not any(default_storage.exists(str(a.file.name)) for a in assets)
