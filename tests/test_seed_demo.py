"""`manage.py seed_demo`: both demo projects, a login for every role, data ingested through the device API."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import override_settings
from rest_framework.authtoken.models import Token

from annotations.models import Asset, AssetKind, Camera, Device, Membership, Prediction, Project, Role, Site
from reviewer.models import ReviewItem

pytestmark = pytest.mark.django_db

SLUGS = {"store-counts", "bus-boarding"}


def seed(**options: object) -> str:
    out = io.StringIO()
    call_command("seed_demo", frames=4, clips=1, stdout=out, **options)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    rows = re.findall(r"^  (\w+) +(?:admin|annotator|reviewer|manager|operator) +"
                      r"(?:store-counts, bus-boarding|store-counts|bus-boarding) +(\S+)$", output, re.M)
    return dict(rows)


def table_sizes() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (Project, Site, Camera, Device, Asset, Prediction, ReviewItem, Membership,
                          get_user_model(), Token)}


@dataclass(frozen=True)
class Demo:
    output: str  # what seed_demo printed
    media: Path  # where its uploads were stored


@pytest.fixture(scope="class")
def demo(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """seed_demo run once for the class's tests, which only read what it made. As Django's setUpTestData: inside a
    transaction of the class's own, in which each test's transaction nests (a savepoint, rolled back after it),
    rolled back after the class, so every test sees exactly one seed and no test sees another's writes; and, as
    each test's seed did, no on-commit work runs. The settings conftest.py gives each test, given once here."""
    from activelearning.rollouts.decision import forget_offers
    from config.celery import app

    media = tmp_path_factory.mktemp("demo") / "media"
    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}
    eager, app.conf.task_always_eager = app.conf.task_always_eager, True
    forget_offers()
    try:
        with (django_db_blocker.unblock(),
              override_settings(MEDIA_ROOT=str(media), LOUPE_UPLOAD_TMP_DIR=media / ".upload-tmp", CACHES=caches,
                                LOUPE_TRAINING_AUTOSTART=False),
              transaction.atomic()):
            yield Demo(output=seed(), media=media)
            transaction.set_rollback(True)
    finally:
        app.conf.task_always_eager = eager


class TestOneSeed:
    """What one run of seed_demo makes (seeded once for the five tests: 2-3 s each)."""

    def test_seed_creates_both_projects_with_their_sites_cameras_and_devices(self, demo: Demo):
        assert set(Project.objects.values_list("slug", flat=True)) == SLUGS
        for project in Project.objects.all():
            assert project.label_classes == ["person"]
            assert project.sites.count() == 2 and project.devices.count() == 2
        store_sites = set(Site.objects.filter(project__slug="store-counts").values_list("name", "kind"))
        assert store_sites == {("Main St", "store"), ("Harbour Mall", "store")}
        assert set(Site.objects.filter(project__slug="bus-boarding").values_list("kind", flat=True)) == {"bus"}
        assert set(Camera.objects.filter(site__project__slug="bus-boarding").values_list("name", flat=True)) == {
            "front-door", "rear-door"}
        assert Device.objects.filter(last_seen_at__isnull=False).count() == 4  # each sent a heartbeat

    def test_seed_creates_a_login_for_every_role_with_scoped_memberships(self, demo: Demo):
        output = demo.output
        users = get_user_model().objects
        roles = set(Membership.objects.values_list("role", flat=True))
        assert roles == set(Role.values)
        admin = users.get(username="admin")
        assert admin.is_superuser and admin.is_staff
        manager = Membership.objects.get(user__username="manager")
        assert manager.project.slug == "store-counts" and manager.role == Role.MANAGER
        assert set(manager.sites.values_list("name", flat=True)) == {"Main St", "Harbour Mall"}
        operator = Membership.objects.get(user__username="operator")
        assert operator.project.slug == "bus-boarding"
        assert set(operator.sites.values_list("name", flat=True)) == {"Route 42", "Depot North"}
        assert Token.objects.get(user=admin).key in output

    def test_printed_passwords_log_in(self, demo: Demo):
        passwords = printed_passwords(demo.output)
        assert set(passwords) == {"admin", "annotator", "reviewer", "manager", "operator"}
        assert len(set(passwords.values())) == 5
        for username, password in passwords.items():
            assert authenticate(username=username, password=password) is not None, username

    def test_assets_are_stored_through_the_device_api(self, demo: Demo):
        assets = Asset.objects.all()
        assert assets.filter(kind=AssetKind.FRAME).count() == 8  # 4 frames for each project
        assert assets.filter(kind=AssetKind.CLIP).count() == 2  # 1 clip for each project
        for asset in assets:
            assert asset.uploaded_by is not None and asset.uploaded_by.project.slug in SLUGS
            assert (demo.media / asset.file.name).is_file()
            assert asset.brightness is not None  # the upload path measured it
        clip = assets.filter(kind=AssetKind.CLIP).first()
        assert clip.frame_count and clip.fps and clip.content_type == "video/mp4"

    def test_events_are_ingested_and_queued_with_reasons_including_disputes(self, demo: Demo):
        types = set(Prediction.objects.values_list("event_type", flat=True))
        assert types == {"prediction", "dispute", "count"}
        disputes = Prediction.objects.filter(event_type="dispute")
        assert disputes.exists() and {d.project.slug for d in disputes} == {"bus-boarding"}
        for dispute in disputes:
            assert dispute.count_name == "boarding"
            assert dispute.context["ticketing_count"] != dispute.context["camera_count"]
        reasons = set(ReviewItem.objects.values_list("reason", flat=True))
        assert "disputed" in reasons and len(reasons) >= 2
        counts = Prediction.objects.filter(event_type="count")
        assert counts.count() == 8 * 96  # a count every quarter hour for a day, per camera
        assert not Prediction.objects.filter(captured_at__gt=Prediction.objects.latest("received_at").received_at)


def test_running_twice_does_not_duplicate_and_prints_the_logins_again():
    seed()
    before = table_sizes()
    output = seed()
    assert table_sizes() == before
    assert "already seeded" in output
    assert "manager" in output and "operator" in output
    assert printed_passwords(output) == {}  # not stored, so not shown again


def test_reset_seeds_again_from_scratch():
    first = seed()
    old_projects = set(Project.objects.values_list("pk", flat=True))
    second = seed(reset=True)
    assert set(Project.objects.values_list("slug", flat=True)) == SLUGS
    assert not old_projects & set(Project.objects.values_list("pk", flat=True))
    assert get_user_model().objects.count() == 5
    assert Membership.objects.count() == 8
    assert printed_passwords(first) != printed_passwords(second)


def test_an_event_the_server_rejects_stops_the_seed_and_leaves_nothing(settings):
    settings.LOUPE_MAX_DETECTIONS = 0  # every event with a box is now rejected as too_many_detections
    with pytest.raises(CommandError, match="too_many_detections"):
        seed()
    assert not Project.objects.exists()
    assert not Prediction.objects.exists()


def test_a_refused_upload_stops_the_seed(settings):
    settings.LOUPE_MAX_UPLOAD_BYTES = 100
    with pytest.raises(CommandError, match="413"):
        seed()
    assert not Project.objects.exists()


def test_partial_demo_is_reported_rather_than_guessed_at():
    Project.objects.create(slug="store-counts", name="Someone's project")
    with pytest.raises(CommandError, match="--reset"):
        seed()


@pytest.mark.django_db(transaction=True)
def test_the_demo_detector_is_champion_and_pre_labels_the_queue_on_the_server():
    from activelearning.registry.models import ModelStatus, ModelVersion, PrelabelRun
    from annotations.models import PredictionSource

    seed()
    for project in Project.objects.all():
        champion = ModelVersion.objects.get(project=project, status=ModelStatus.CHAMPION)
        assert champion.name == "people-detector" and champion.classes == ["person"]
        assert champion.input_width == 320 and champion.metadata["num_candidates"] == 2000
    frame_items = ReviewItem.objects.filter(asset__kind=AssetKind.FRAME)
    runs = PrelabelRun.objects.filter(review_item__in=frame_items)
    assert runs.count() == frame_items.count() and {r.status for r in runs} == {"done"}
    server = Prediction.objects.filter(source=PredictionSource.SERVER)
    assert server.count() >= frame_items.count()
    assert sum(p.detection_count for p in server) > 0  # the trained model finds the drawn people
