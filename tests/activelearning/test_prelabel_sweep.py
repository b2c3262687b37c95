"""Pre-label jobs that were lost are sent again (prelabel_sweep.py), and a store that is briefly away makes the job
retry instead of failing its items. tests/cluster/test_faults.py shows both with real processes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import EndpointConnectionError
from django.utils import timezone

from activelearning.registry import prelabels
from activelearning.registry.models import ModelStatus, ModelVersion, PrelabelRun, PrelabelStatus
from activelearning.registry.prelabel_sweep import sweep_missed_prelabels
from activelearning.registry.tasks import prelabel_items_task
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import make_items, make_project

pytestmark = pytest.mark.django_db


def champion(project, status: str = ModelStatus.CHAMPION) -> ModelVersion:
    return ModelVersion.objects.create(project=project, name="det", version=1, file="models/x.onnx", sha256="0" * 64,
                                       size_bytes=1, input_width=64, input_height=64, classes=["person"],
                                       status=status, promoted_at=timezone.now() - timedelta(hours=1))


@pytest.fixture
def sent(monkeypatch) -> list[list[int]]:
    calls: list[list[int]] = []
    monkeypatch.setattr(prelabels.jobs, "send", lambda name, item_ids: calls.append(item_ids))
    return calls


def test_the_sweep_sends_again_only_pending_items_still_without_a_pass_of_the_champion(sent):
    project = make_project()
    model = champion(project)
    lost, done, taken, recent = make_items(project, 4)
    old = timezone.now() - timedelta(minutes=10)
    ReviewItem.objects.filter(pk__in=[lost.pk, done.pk, taken.pk]).update(created_at=old)
    PrelabelRun.objects.create(review_item=done, model_version=model, status=PrelabelStatus.DONE)
    ReviewItem.objects.filter(pk=taken.pk).update(status=ItemStatus.ACCEPTED)
    assert sweep_missed_prelabels(older_than=timedelta(minutes=5)) == 1
    assert sent == [[lost.pk]]  # not the one done, nor the one accepted, nor the one queued a moment ago


def test_no_champion_in_service_means_nothing_to_send(sent):
    project = make_project()
    model = champion(project)
    model.out_of_service = True
    model.save()
    item = make_items(project, 1)[0]
    ReviewItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert sweep_missed_prelabels(older_than=timedelta(minutes=5)) == 0
    assert sent == []


def test_an_unreachable_store_retries_the_job_and_records_no_failure(monkeypatch):
    project = make_project()
    champion(project)
    item = make_items(project, 1)[0]

    def unreachable(*args, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/bucket/x")

    monkeypatch.setattr(prelabels, "local_model_path", unreachable)
    with pytest.raises(prelabels.StorageUnavailable):
        prelabels.prelabel_items(item_ids=[item.pk])
    assert not PrelabelRun.objects.exists()
    assert prelabels.StorageUnavailable in prelabel_items_task.autoretry_for
