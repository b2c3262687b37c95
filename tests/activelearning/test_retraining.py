"""Threshold-triggered retraining, exactly once: acceptances counted in their own transactions, one
RetrainRequest per epoch by constraint, the outbox dispatched once into a frozen dataset version and a run."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from activelearning.datasets.models import CameraSplit, DatasetEntry, DatasetVersion
from activelearning.training.models import RetrainRequest, RetrainState, TrainingRun
from activelearning.training.threshold import (
    dataset_content_hash,
    dispatch_retrain_requests,
    freeze_dataset,
)
from annotations.models import Annotation, Asset, AuditEvent, Camera, Membership, Site
from reviewer.models import ItemStatus, ReviewItem
from reviewer.services import decide_review
from tests.factories import add_member, make_items, make_project

ROOT = Path(__file__).resolve().parents[2]


def submitted_items(project, n: int, *, camera: Camera | None = None) -> list[ReviewItem]:
    """`n` items awaiting QA, each with a submitted annotation of one box."""
    annotator = User.objects.get_or_create(username="alice")[0]
    items = make_items(project, n, site=camera.site if camera else None)
    Annotation.objects.bulk_create([
        Annotation(project=project, asset_id=item.asset_id, review_item_id=item.pk, version=1, author=annotator,
                   boxes=[{"label": "person", "box": [10, 20, 30, 40]}], submitted_at=timezone.now())
        for item in items])
    ReviewItem.objects.filter(pk__in=[i.pk for i in items]).update(status=ItemStatus.SUBMITTED,
                                                                  camera=camera)
    return list(ReviewItem.objects.filter(pk__in=[i.pk for i in items]).order_by("pk"))


def accept(item: ReviewItem, reviewer: User) -> None:
    decide_review(item=item, user=reviewer, decision="accept", comment="")


@pytest.fixture
def project(db):
    project = make_project("store-counts")
    project.retrain_threshold = 3
    project.save()
    add_member(project, "bob", "reviewer")
    add_member(project, "dana", "admin")
    return project


@pytest.mark.django_db(transaction=True)
def test_crossing_the_threshold_requests_once_freezes_a_version_and_queues_one_run(project):
    bob = User.objects.get(username="bob")
    items = submitted_items(project, 7)
    for item in items[:2]:
        accept(item, bob)
    assert not RetrainRequest.objects.exists()
    assert RetrainState.objects.get(project=project).accepted_since == 2
    accept(items[2], bob)  # the third acceptance reaches the threshold
    request = RetrainRequest.objects.get()
    assert request.epoch == 0 and request.trigger == "threshold" and request.accepted_count == 3
    assert request.dispatched_at is not None  # the outbox was worked off after the commit
    version = DatasetVersion.objects.get()
    assert version.request == request and version.number == 1 and version.stats["items"] == 3
    assert version.stats["boxes_per_class"] == {"person": 3}
    assert set(DatasetEntry.objects.filter(dataset_version=version).values_list("review_item_id", flat=True)) == {
        i.pk for i in items[:3]}
    run = TrainingRun.objects.get()
    assert run.dataset_version == version and run.request == request and run.status == "queued"
    state = RetrainState.objects.get(project=project)
    assert (state.epoch, state.accepted_since) == (1, 0)
    for item in items[3:5]:
        accept(item, bob)
    assert RetrainRequest.objects.count() == 1  # two into the next epoch
    accept(items[5], bob)
    assert RetrainRequest.objects.count() == 2 and DatasetVersion.objects.count() == 2
    second = DatasetVersion.objects.get(number=2)
    assert second.parent_id == version.pk and second.stats["items"] == 6
    assert dispatch_retrain_requests() == []  # nothing left: never twice
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"retrain.requested", "dataset.frozen", "training.queued"} <= actions


@pytest.mark.django_db
def test_two_freezes_of_the_same_state_have_the_same_hash_and_a_camera_stays_in_one_split(project):
    bob = User.objects.get(username="bob")
    project.retrain_threshold = 0  # no automatic trigger in this test
    project.save()
    site = Site.objects.create(project=project, name="North")
    cameras = [Camera.objects.create(site=site, name=f"cam-{i}") for i in range(6)]
    for camera in cameras:
        for item in submitted_items(project, 3, camera=camera):
            accept(item, bob)
    with transaction.atomic():
        first = freeze_dataset(project_id=project.pk)
        second = freeze_dataset(project_id=project.pk)
    assert first.content_hash == second.content_hash == dataset_content_hash(first)
    assert first.stats["items"] == 18
    decided = dict(CameraSplit.objects.values_list("camera_id", "split"))
    for camera in cameras:
        splits = set(DatasetEntry.objects.filter(dataset_version=first, review_item__camera=camera)
                     .values_list("split", flat=True))
        assert splits == {decided[camera.pk]}
    # Six cameras fill all three splits, train the most (70/15/15 by camera, decided in id order).
    assert sorted(Counter(decided.values()).items()) == [("test", 1), ("train", 4), ("val", 1)]
    # A later version keeps every frame in its split.
    accept(submitted_items(project, 1, camera=cameras[0])[0], bob)
    with transaction.atomic():
        third = freeze_dataset(project_id=project.pk)
    before = dict(DatasetEntry.objects.filter(dataset_version=first).values_list("asset_id", "split"))
    after = dict(DatasetEntry.objects.filter(dataset_version=third).values_list("asset_id", "split"))
    assert all(after[asset] == split for asset, split in before.items()) and len(after) == 19
    assert third.content_hash != first.content_hash


@pytest.mark.django_db
def test_admins_trigger_by_hand_once_per_epoch(project):
    admin = APIClient()
    admin.force_authenticate(User.objects.get(username="dana"))
    url = f"/api/v1/projects/{project.pk}/retrain"
    reviewer = APIClient()
    reviewer.force_authenticate(User.objects.get(username="bob"))
    assert reviewer.post(url).status_code == 403
    first = admin.post(url)
    assert first.status_code == 201 and first.json()["trigger"] == "manual" and first.json()["epoch"] == 0
    again = admin.post(url)
    assert again.status_code == 409 and again.json()["error"]["code"] == "retrain_already_requested"


def bulk_submitted_items(project, n: int) -> list[ReviewItem]:
    """`n` items awaiting QA in four statements (the race below makes thousands)."""
    annotator = User.objects.get_or_create(username="alice")[0]
    site = Site.objects.get_or_create(project=project, name="Main St")[0]
    now = timezone.now()
    assets = Asset.objects.bulk_create([
        Asset(sha256=hashlib.sha256(f"{project.slug}-{i}".encode()).hexdigest(), kind="frame",
              content_type="image/jpeg", file=f"assets/{project.slug}-{i}.jpg", size_bytes=1000, width=320,
              height=240) for i in range(n)])
    items = ReviewItem.objects.bulk_create([
        ReviewItem(project=project, asset=a, site=site, reason="low_confidence", priority=0.5,
                   status=ItemStatus.SUBMITTED) for a in assets])
    Annotation.objects.bulk_create([
        Annotation(project=project, asset=a, review_item_id=item.pk, version=1, author=annotator,
                   boxes=[{"label": "person", "box": [10, 20, 30, 40]}], submitted_at=now)
        for a, item in zip(assets, items, strict=True)])
    return items


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_acceptances_make_one_request_and_one_version_twenty_times(project, postgres, settings):
    settings.LOUPE_STATS_PUSH_INTERVAL = -1  # no queue recount per acceptance: the race is what is measured
    bob = User.objects.get(username="bob")
    # Twenty races, each with the full contention (ten threads released together, fifty acceptances counted, the
    # crossing contended). Exactly once comes from the counter's upsert and the request's unique constraint, not
    # from luck: a counter that can lose an acceptance (read-modify-write instead of the upsert, tried as a
    # mutant) fails in the first race. A hundred races proved nothing more and took five times as long (36 s).
    races, per_race, threads = 20, 50, 10
    for race in range(races):
        arena = make_project(f"race-{race}")
        arena.retrain_threshold = per_race
        arena.save()
        Membership.objects.create(project=arena, user=bob, role="reviewer")
        items = bulk_submitted_items(arena, per_race)
        barrier = threading.Barrier(threads)

        def accept_some(chunk: list[ReviewItem], barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(timeout=30)
                for item in chunk:
                    accept(item, bob)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(accept_some, [items[i::threads] for i in range(threads)]))
        assert RetrainRequest.objects.filter(project=arena).count() == 1, f"race {race}"
        assert DatasetVersion.objects.filter(project=arena).count() == 1, f"race {race}"
        assert TrainingRun.objects.filter(project=arena).count() == 1, f"race {race}"
        assert DatasetVersion.objects.get(project=arena).stats["items"] == per_race
        assert RetrainState.objects.get(project=arena).accepted_since == 0


CRASH_AFTER_TRIGGER = textwrap.dedent("""
    import os, django
    django.setup()
    from django.contrib.auth.models import User
    from activelearning.training import threshold as retraining
    from reviewer.models import ReviewItem
    from reviewer.services import decide_review
    retraining._kick_dispatch = lambda: os._exit(3)  # the process dies right after the trigger commits
    decide_review(item=ReviewItem.objects.get(pk={item}), user=User.objects.get(username="bob"),
                  decision="accept", comment="")
""")


@pytest.mark.django_db(transaction=True)
def test_a_crash_right_after_the_trigger_commits_still_dispatches_once(project, postgres, settings):
    bob = User.objects.get(username="bob")
    items = submitted_items(project, 3)
    for item in items[:2]:
        accept(item, bob)
    db = settings.DATABASES["default"]
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "LOUPE_SECRET_KEY": settings.SECRET_KEY, "LOUPE_DB_POOL": "false"}
    script = CRASH_AFTER_TRIGGER.format(item=items[2].pk)
    crashed = subprocess.run([sys.executable, "-c", script], cwd=ROOT,  # noqa: S603
                             env=env, capture_output=True, timeout=120, check=False)
    assert crashed.returncode == 3, crashed.stderr.decode()[-2000:]
    request = RetrainRequest.objects.get()
    assert request.dispatched_at is None and not TrainingRun.objects.exists()  # committed, not yet dispatched
    # Two sweepers at once (the beat timer and a worker restart): one run, one version.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: _sweep(), range(2)))
    assert sorted(len(r) for r in results) == [0, 1]
    assert TrainingRun.objects.count() == 1 and DatasetVersion.objects.count() == 1
    assert DatasetVersion.objects.get().stats["items"] == 3


def _sweep() -> list[int]:
    try:
        return dispatch_retrain_requests()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_site_reaching_its_own_threshold_triggers_once_per_epoch(project):
    from activelearning.training.models import SiteRetrainCount, TrainerConfig

    bob = User.objects.get(username="bob")
    project.retrain_threshold = 100  # far away: only the per-site rule can fire
    project.save()
    TrainerConfig.objects.create(project=project, per_site_threshold=2)
    north = Camera.objects.create(site=Site.objects.create(project=project, name="North"), name="door")
    south = Camera.objects.create(site=Site.objects.create(project=project, name="South"), name="door")
    north_items, south_items = submitted_items(project, 3, camera=north), submitted_items(project, 1, camera=south)
    accept(north_items[0], bob)
    accept(south_items[0], bob)
    assert not RetrainRequest.objects.exists()  # one each: neither site is there yet
    accept(north_items[1], bob)  # North's second
    request = RetrainRequest.objects.get()
    assert request.trigger == "threshold" and request.accepted_count == 3
    event = AuditEvent.objects.get(action="retrain.requested")
    assert event.after["site"] == north.site_id
    # The freeze that dispatched it starts a new epoch for every site.
    assert set(SiteRetrainCount.objects.values_list("accepted_since", flat=True)) == {0}
    accept(north_items[2], bob)
    assert RetrainRequest.objects.count() == 1


@pytest.mark.django_db
def test_without_a_per_site_threshold_nothing_is_counted_per_site(project):
    from activelearning.training.models import SiteRetrainCount

    accept(submitted_items(project, 1)[0], User.objects.get(username="bob"))
    assert not SiteRetrainCount.objects.exists()


@pytest.mark.django_db
def test_a_small_projects_first_version_has_a_test_split_split_per_frame_inside_its_cameras(project):
    """Three cameras of 5, 5 and 10 frames used to freeze as 15/5/0 (whole cameras: train, train, val)."""
    bob = User.objects.get(username="bob")
    project.retrain_threshold = 0
    project.save()
    site = Site.objects.create(project=project, name="North")
    for i, n in enumerate((5, 5, 10)):
        camera = Camera.objects.create(site=site, name=f"cam-{i}")
        for item in submitted_items(project, n, camera=camera):
            accept(item, bob)
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    splits = Counter(DatasetEntry.objects.filter(dataset_version=version).values_list("split", flat=True))
    assert splits["test"] >= 1 and splits["train"] >= 1 and sum(splits.values()) == 20
    assert version.stats["split_rule"] == "frame" and version.stats["per_split"]["test"] == splits["test"]


@pytest.mark.django_db
def test_two_frames_make_one_train_and_one_test_frame(project):
    bob = User.objects.get(username="bob")
    project.retrain_threshold = 0
    project.save()
    camera = Camera.objects.create(site=Site.objects.create(project=project, name="North"), name="door")
    for item in submitted_items(project, 2, camera=camera):
        accept(item, bob)
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    assert sorted(DatasetEntry.objects.filter(dataset_version=version).values_list("split", flat=True)) == [
        "test", "train"]


@pytest.mark.django_db
def test_a_version_after_one_without_test_frames_gets_some_and_no_trained_frame_moves(project):
    bob = User.objects.get(username="bob")
    project.retrain_threshold = 0
    project.save()
    site = Site.objects.create(project=project, name="North")
    cameras = [Camera.objects.create(site=site, name=f"cam-{i}") for i in range(3)]
    for camera, n in zip(cameras, (5, 5, 5), strict=True):
        for item in submitted_items(project, n, camera=camera):
            accept(item, bob)
    # The old rule's decisions (train, train, val) and a first version without test frames.
    CameraSplit.objects.bulk_create([CameraSplit(camera=c, split=s) for c, s in zip(cameras, ("train", "train", "val"),
                                                                                   strict=True)])
    first = DatasetVersion.objects.create(project=project, number=1, content_hash="x" * 64)
    for item in ReviewItem.objects.filter(project=project, status=ItemStatus.ACCEPTED):
        DatasetEntry.objects.create(dataset_version=first, asset_id=item.asset_id, review_item=item,
                                    annotation=Annotation.objects.get(review_item_id=item.pk),
                                    split="val" if item.camera_id == cameras[2].pk else "train")
    with transaction.atomic():
        second = freeze_dataset(project_id=project.pk)
    before = dict(DatasetEntry.objects.filter(dataset_version=first).values_list("asset_id", "split"))
    after = dict(DatasetEntry.objects.filter(dataset_version=second).values_list("asset_id", "split"))
    assert "test" in after.values()
    assert all(after[a] == "train" for a, s in before.items() if s == "train")
