"""Retention (docs/retention.md): the prune deletes what the policy says is past keeping and nothing referenced;
its dry run lists exactly what the real run deletes; bytes go from storage only when no project keeps them."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from activelearning import jobs
from activelearning.datasets.models import DatasetEntry, DatasetVersion
from activelearning.health.models import DeviceTelemetry
from activelearning.retention import services
from activelearning.retention.models import LegalHold, RetentionPolicy, RetentionRun
from activelearning.retention.services import plan_prune, prune_project
from activelearning.retention.storage import delete_asset_files
from annotations import frame_cache
from annotations.models import Annotation, Asset, AssetHolding, AuditEvent, Camera, Prediction, Project
from reviewer.models import CountFlag, FlagStatus, ItemStatus, ReviewItem
from tests.factories import DeviceKit, add_member, as_user, jpeg_bytes, make_device_kit, make_project

pytestmark = pytest.mark.django_db

OLD = timedelta(days=100)


def upload(kit: DeviceKit, seed: int, *, age: timedelta = OLD) -> Asset:
    """Real bytes through the device API, held by the kit's project since `age` ago."""
    body = jpeg_bytes(seed=seed)
    assert kit.put_media(body).status_code in (200, 201)
    asset = Asset.objects.get(sha256=hashlib.sha256(body).hexdigest())
    AssetHolding.objects.filter(project=kit.project, asset=asset).update(created_at=timezone.now() - age)
    return asset


def predict(kit: DeviceKit, asset: Asset | None, *, age: timedelta = OLD, camera: Camera | None = None) -> Prediction:
    when = timezone.now() - age
    camera = camera or Camera.objects.filter(device=kit.device).first()
    return Prediction.objects.create(project=kit.project, device=kit.device, camera=camera, asset=asset,
                                     event_type="prediction", payload_hash="x", event_id=f"e{Prediction.objects.count()}",
                                     captured_at=when, received_at=when, detection_count=0)


def queue(kit: DeviceKit, asset: Asset, prediction: Prediction, status: str = ItemStatus.PENDING) -> ReviewItem:
    return ReviewItem.objects.create(project=kit.project, asset=asset, prediction=prediction, site=kit.device.site,
                                     reason="low_confidence", priority=0.5, status=status,
                                     accepted_at=timezone.now() if status == ItemStatus.ACCEPTED else None)


def annotate(kit: DeviceKit, asset: Asset, item: ReviewItem, *, age: timedelta = OLD) -> Annotation:
    author = User.objects.get_or_create(username="alice")[0]
    return Annotation.objects.create(project=kit.project, asset=asset, review_item_id=item.pk, version=1,
                                     author=author, boxes=[], submitted_at=timezone.now() - age)


def bytes_readable(asset: Asset) -> bool:
    if not default_storage.exists(str(asset.file.name)):
        return False
    with default_storage.open(str(asset.file.name), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest() == asset.sha256


def set_policy(project: Project, **days: int | None) -> None:
    RetentionPolicy.objects.update_or_create(project=project, defaults=days)


def backdate_audit(event_ids: list[int], age: timedelta) -> None:
    # Audit rows are append-only through the model's manager; only the test rewrites their time.
    models.QuerySet.update(AuditEvent.objects.filter(pk__in=event_ids), created_at=timezone.now() - age)


def plan_sets(plan: services.Plan) -> tuple[set[str], set[str]]:
    return {a.sha256 for a in plan.holdings}, {a.sha256 for a in plan.media}


@pytest.fixture
def kit() -> DeviceKit:
    return make_device_kit(make_project("store-counts"))


def test_a_project_without_a_policy_keeps_everything(kit):
    asset = upload(kit, 1)
    run = prune_project(project=kit.project)
    assert run.report["holdings_removed"] == [] and run.report["bytes_freed"] == 0
    assert bytes_readable(asset) and AssetHolding.objects.filter(asset=asset).exists()


def test_old_unreviewed_media_are_deleted_from_storage_and_the_rows_stay_consistent(kit):
    never_queued = upload(kit, 1)
    predict(kit, never_queued)
    no_event = upload(kit, 2)
    fresh = upload(kit, 3, age=timedelta(days=2))
    recently_used = upload(kit, 4)
    predict(kit, recently_used, age=timedelta(days=1))  # an event used it yesterday: its age starts there
    frame_cache.ensure_frames(never_queued)  # a derived frame and thumbnail cached beside it
    assert default_storage.exists(frame_cache.thumb_storage_name(never_queued.sha256))
    set_policy(kit.project, unreviewed_media_days=30)

    run = prune_project(project=kit.project)

    gone = {never_queued.sha256, no_event.sha256}
    assert set(run.report["holdings_removed"]) == gone
    assert {m["sha256"] for m in run.report["media_deleted"]} == gone
    assert run.report["bytes_freed"] == never_queued.size_bytes + no_event.size_bytes > 0
    assert run.finished_at is not None
    for asset in (never_queued, no_event):
        asset.refresh_from_db()
        assert asset.media_deleted_at is not None and not AssetHolding.objects.filter(asset=asset).exists()
        assert not default_storage.exists(str(asset.file.name))
    assert not default_storage.exists(frame_cache.thumb_storage_name(never_queued.sha256))
    # The prediction that named it stays (predictions have their own limit) and still points at the row.
    assert Prediction.objects.filter(asset=never_queued).count() == 1
    for asset in (fresh, recently_used):
        assert bytes_readable(asset) and AssetHolding.objects.filter(asset=asset).exists()
    event = AuditEvent.objects.get(action="retention.pruned")
    assert event.project_id == kit.project.pk and event.after["bytes_freed"] == run.report["bytes_freed"]


def test_referenced_media_survive_and_stay_readable(kit):
    other = make_device_kit(make_project("bus-boarding"), site="Depot", camera="bus-1")
    held_site_kit = make_device_kit(kit.project, site="Harbour", camera="door-9")
    # In a frozen dataset version: reviewed long ago, accepted.
    in_dataset = upload(kit, 1)
    item = queue(kit, in_dataset, predict(kit, in_dataset), ItemStatus.ACCEPTED)
    version = DatasetVersion.objects.create(project=kit.project, number=1, content_hash="0" * 64)
    DatasetEntry.objects.create(dataset_version=version, asset=in_dataset, review_item=item,
                                annotation=annotate(kit, in_dataset, item), split="train")
    # An open item (pending, never reviewed) and one in rework after a rejection.
    open_pending = upload(kit, 2)
    queue(kit, open_pending, predict(kit, open_pending))
    open_submitted = upload(kit, 3)
    submitted = queue(kit, open_submitted, predict(kit, open_submitted), ItemStatus.SUBMITTED)
    annotate(kit, open_submitted, submitted)
    # A site under legal hold.
    on_hold = upload(held_site_kit, 4)
    predict(held_site_kit, on_hold, camera=Camera.objects.get(name="door-9"))
    LegalHold.objects.create(site=held_site_kit.device.site, reason="case 42",
                             held_by=User.objects.create_user("dana"))
    # Held by another project too: this project lets go, the bytes stay for the other.
    shared = upload(kit, 5)
    upload(other, 5, age=timedelta(days=1))
    set_policy(kit.project, unreviewed_media_days=30, reviewed_media_days=30)

    plan = plan_prune(project=kit.project)
    run = prune_project(project=kit.project)

    assert set(run.report["holdings_removed"]) == {shared.sha256} == plan_sets(plan)[0]
    assert run.report["media_deleted"] == [] and run.report["bytes_freed"] == 0
    for asset in (in_dataset, open_pending, open_submitted, on_hold, shared):
        asset.refresh_from_db()
        assert asset.media_deleted_at is None and bytes_readable(asset), asset
    assert AssetHolding.objects.filter(asset=shared).values_list("project_id", flat=True).get() == other.project.pk
    assert other.client.head(f"/api/v1/media/{shared.sha256}", **other.headers()).status_code == 200


def test_frames_an_open_count_flag_shows_are_kept_until_the_flag_is_reviewed(kit):
    frame = upload(kit, 1)
    predict(kit, frame)
    item = ReviewItem.objects.create(project=kit.project, site=kit.device.site, reason="count_flag", priority=0.9,
                                     status=ItemStatus.ACCEPTED)
    flag = CountFlag.objects.create(project=kit.project, camera=Camera.objects.get(device=kit.device),
                                    flagged_by=User.objects.create_user("mia"), review_item=item,
                                    window_start=timezone.now() - OLD, window_end=timezone.now() - OLD / 2,
                                    observed_count=3, model_count=1, assets=[frame.sha256])
    set_policy(kit.project, unreviewed_media_days=30)
    assert prune_project(project=kit.project).report["holdings_removed"] == []
    assert bytes_readable(frame)
    flag.status = FlagStatus.REVIEWED
    flag.save()
    assert prune_project(project=kit.project).report["holdings_removed"] == [frame.sha256]


def test_bytes_go_only_when_the_last_project_lets_go(kit):
    other = make_device_kit(make_project("bus-boarding"), site="Depot", camera="bus-1")
    shared = upload(kit, 1)
    upload(other, 1)
    set_policy(kit.project, unreviewed_media_days=30)
    set_policy(other.project, unreviewed_media_days=30)
    first = prune_project(project=kit.project)
    assert first.report["holdings_removed"] == [shared.sha256] and first.report["media_deleted"] == []
    assert bytes_readable(shared)
    second = prune_project(project=other.project)
    assert second.report["media_deleted"] == [{"sha256": shared.sha256, "bytes": shared.size_bytes}]
    assert not default_storage.exists(str(shared.file.name))


def test_the_dry_run_lists_exactly_what_the_real_run_deletes(kit):
    old_unreviewed = [upload(kit, seed) for seed in range(1, 4)]
    never_queued = [predict(kit, asset) for asset in old_unreviewed[:2]]
    reviewed_old = upload(kit, 10)
    accepted = queue(kit, reviewed_old, predict(kit, reviewed_old), ItemStatus.ACCEPTED)
    annotate(kit, reviewed_old, accepted)
    reviewed_recent = upload(kit, 11)
    accepted_recent = queue(kit, reviewed_recent, predict(kit, reviewed_recent), ItemStatus.ACCEPTED)
    annotate(kit, reviewed_recent, accepted_recent, age=timedelta(days=5))
    kept_open = upload(kit, 12)
    queue(kit, kept_open, predict(kit, kept_open))
    counts = [predict(kit, None) for _ in range(3)]  # count events: no asset
    predict(kit, None, age=timedelta(days=1))
    dana = User.objects.create_user("dana")
    old_events = [AuditEvent.objects.create(project=kit.project, actor=dana, action="x", object_type="t",
                                            object_id=str(i)) for i in range(3)]
    backdate_audit([e.pk for e in old_events], timedelta(days=400))
    AuditEvent.objects.create(project=kit.project, actor=dana, action="recent", object_type="t", object_id="r")
    set_policy(kit.project, unreviewed_media_days=30, reviewed_media_days=60, prediction_days=30, audit_days=365)

    dry = call_json("--project", str(kit.project.pk), "--dry-run")
    assert Asset.objects.filter(media_deleted_at__isnull=False).count() == 0  # the dry run deleted nothing
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in old_events]).count() == 3
    before_predictions = set(Prediction.objects.values_list("id", flat=True))
    run = prune_project(project=kit.project)
    deleted_predictions = before_predictions - set(Prediction.objects.values_list("id", flat=True))

    expected = {a.sha256 for a in [*old_unreviewed, reviewed_old]}
    assert set(dry["holdings_removed"]) == set(run.report["holdings_removed"]) == expected
    assert dry["media_deleted"] == run.report["media_deleted"]
    assert {m["sha256"] for m in run.report["media_deleted"]} == expected
    assert dry["bytes_freed"] == run.report["bytes_freed"] == sum(a.size_bytes for a in [*old_unreviewed, reviewed_old])
    # Predictions past the limit go, except those a review item (open or accepted) keeps.
    assert deleted_predictions == {p.pk for p in [*counts, *never_queued]}
    assert dry["predictions_deleted"] == run.report["predictions_deleted"] == len(deleted_predictions) == 5
    assert dry["audit_events_deleted"] == run.report["audit_events_deleted"] == 3
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old_events]).exists()
    assert AuditEvent.objects.filter(action="recent").exists()
    assert bytes_readable(reviewed_recent) and bytes_readable(kept_open)
    assert RetentionRun.objects.filter(project=kit.project, dry_run=True).count() == 1


def call_json(*args: str) -> dict:
    out = StringIO()
    call_command("prune_retention", *args, stdout=out)
    return json.loads(out.getvalue())


def test_a_run_cut_off_after_its_commit_is_finished_by_the_next(kit, monkeypatch):
    asset = upload(kit, 1)
    set_policy(kit.project, unreviewed_media_days=30)

    def storage_down(**_: object) -> None:
        raise OSError("storage unreachable")

    monkeypatch.setattr(services, "delete_asset_files", storage_down)
    with pytest.raises(OSError):
        prune_project(project=kit.project)
    run = RetentionRun.objects.get(dry_run=False)
    assert run.finished_at is None and bytes_readable(asset)
    assert not AssetHolding.objects.filter(asset=asset).exists()  # the rows committed before any storage I/O

    monkeypatch.undo()
    again = prune_project(project=kit.project)
    run.refresh_from_db()
    assert run.finished_at is not None and again.report["holdings_removed"] == []
    assert not default_storage.exists(str(asset.file.name))


def test_an_upload_between_the_commit_and_the_byte_deletion_keeps_the_bytes(kit, monkeypatch):
    asset = upload(kit, 1)
    set_policy(kit.project, unreviewed_media_days=30)

    def storage_down(**_: object) -> None:
        raise OSError("storage unreachable")

    monkeypatch.setattr(services, "delete_asset_files", storage_down)
    with pytest.raises(OSError):
        prune_project(project=kit.project)
    monkeypatch.undo()
    assert kit.put_media(jpeg_bytes(seed=1)).status_code == 201  # the device sends the same frame again
    prune_project(project=kit.project)  # finishes the cut-off run: the asset is held again, so it stays
    asset.refresh_from_db()
    assert asset.media_deleted_at is None and bytes_readable(asset)
    assert AssetHolding.objects.filter(project=kit.project, asset=asset).exists()


def test_a_new_upload_of_pruned_bytes_brings_them_back(kit):
    asset = upload(kit, 1)
    set_policy(kit.project, unreviewed_media_days=30)
    prune_project(project=kit.project)
    assert not default_storage.exists(str(asset.file.name))
    assert kit.put_media(jpeg_bytes(seed=1)).status_code == 201
    asset.refresh_from_db()
    assert asset.media_deleted_at is None and bytes_readable(asset)


def test_the_daily_job_is_scheduled_and_prunes_every_project_with_a_policy(kit, settings):
    assert settings.CELERY_BEAT_SCHEDULE["prune-retention"]["task"] == "retention.prune"
    asset = upload(kit, 1)
    set_policy(kit.project, unreviewed_media_days=30)
    jobs.send("retention.prune")
    assert not default_storage.exists(str(asset.file.name))
    assert RetentionRun.objects.get(project=kit.project, dry_run=False).report["bytes_freed"] == asset.size_bytes


# --- The API -------------------------------------------------------------------------------------------------


@pytest.fixture
def members(kit):
    add_member(kit.project, "dana", "admin")
    add_member(kit.project, "alice", "annotator")
    add_member(kit.project, "bob", "reviewer")
    add_member(make_project("bus-boarding"), "charlie", "admin")
    return kit.project


def url(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/retention"


def test_admin_reads_the_defaults_keep_forever(members):
    body = as_user("dana").get(url(members)).json()
    assert body["policy"] == {"unreviewed_media_days": None, "reviewed_media_days": None, "prediction_days": None,
                              "audit_days": None}
    assert body["audit_floor_days"] == 365 and body["legal_holds"] == []
    assert body["last_run"] is None and body["last_dry_run"] is None


def test_admin_sets_limits_audited_and_reads_the_last_run(members, kit):
    response = as_user("dana").put(url(members), {"unreviewed_media_days": 30, "audit_days": 400}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["policy"]["unreviewed_media_days"] == 30
    event = AuditEvent.objects.get(action="retention.configured")
    assert event.actor.username == "dana"
    assert event.before == {"unreviewed_media_days": None, "audit_days": None}
    assert event.after == {"unreviewed_media_days": 30, "audit_days": 400}
    asset = upload(kit, 1)
    prune_project(project=kit.project)
    last = as_user("dana").get(url(members)).json()["last_run"]
    assert last["report"]["media_deleted"] == [{"sha256": asset.sha256, "bytes": asset.size_bytes}]
    # null sets a limit back to "keep forever".
    response = as_user("dana").put(url(members), {"unreviewed_media_days": None}, format="json")
    assert response.json()["policy"]["unreviewed_media_days"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({"unreviewed_media_days": -1}, "unreviewed_media_days"),
    ({"reviewed_media_days": 0}, "reviewed_media_days"),
    ({"prediction_days": "30"}, "prediction_days"),
    ({"prediction_days": 1.5}, "prediction_days"),
    ({"prediction_days": True}, "prediction_days"),
    ({"audit_days": 30}, "audit_days"),
    ({"audit_days": 364}, "audit_days"),
    ({"media_days": 30}, "media_days"),
    ({}, "non_field_errors"),
])
def test_bad_input_is_refused_beside_its_field_and_stores_nothing(members, body, field):
    response = as_user("dana").put(url(members), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]
    assert not RetentionPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action="retention.configured").exists()


def test_admin_asks_for_a_dry_run_and_reads_it_back(members, kit):
    asset = upload(kit, 1)
    set_policy(kit.project, unreviewed_media_days=30)
    response = as_user("dana").post(f"{url(members)}/dry-run")
    assert response.status_code == 200, response.content
    assert response.json()["dry_run"] is True
    assert response.json()["report"]["media_deleted"] == [{"sha256": asset.sha256, "bytes": asset.size_bytes}]
    assert bytes_readable(asset) and AssetHolding.objects.filter(asset=asset).exists()
    assert as_user("dana").get(url(members)).json()["last_dry_run"]["id"] == response.json()["id"]
    assert as_user("alice").post(f"{url(members)}/dry-run").status_code == 403
    assert as_user("charlie").post(f"{url(members)}/dry-run").status_code == 404


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_other_roles_are_refused_and_outsiders_see_nothing(members, kit, who):
    site = kit.device.site
    hold_url = f"/api/v1/projects/{members.pk}/sites/{site.pk}/legal-hold"
    assert as_user(who).get(url(members)).status_code == 403
    assert as_user(who).put(url(members), {"audit_days": 400}, format="json").status_code == 403
    assert as_user(who).put(hold_url, {"reason": "x"}, format="json").status_code == 403
    assert as_user("charlie").get(url(members)).status_code == 404
    assert as_user("charlie").put(url(members), {"audit_days": 400}, format="json").status_code == 404
    assert as_user("charlie").put(hold_url, {"reason": "x"}, format="json").status_code == 404
    assert as_user(None).get(url(members)).status_code == 401
    assert not RetentionPolicy.objects.exists() and not LegalHold.objects.exists()


def test_legal_hold_is_placed_and_released_with_who_why_when_audited(members, kit):
    site = kit.device.site
    hold_url = f"/api/v1/projects/{members.pk}/sites/{site.pk}/legal-hold"
    response = as_user("dana").put(hold_url, {"reason": "case 42"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["reason"] == "case 42" and response.json()["held_by"] == "dana"
    assert as_user("dana").put(hold_url, {"reason": "again"}, format="json").status_code == 409
    assert as_user("dana").get(url(members)).json()["legal_holds"][0]["site_name"] == site.name
    asset = upload(kit, 1)
    predict(kit, asset)
    set_policy(kit.project, unreviewed_media_days=30)
    assert prune_project(project=kit.project).report["holdings_removed"] == []
    assert bytes_readable(asset)
    assert as_user("dana").delete(hold_url).status_code == 204
    assert as_user("dana").delete(hold_url).status_code == 404
    assert [e.action for e in AuditEvent.objects.filter(object_type="site").order_by("pk")] == [
        "legal_hold.placed", "legal_hold.released"]
    assert prune_project(project=kit.project).report["holdings_removed"] == [asset.sha256]
    other_site = make_device_kit(Project.objects.get(slug="bus-boarding"), site="Depot", camera="bus-1").device.site
    assert as_user("dana").put(f"/api/v1/projects/{members.pk}/sites/{other_site.pk}/legal-hold",
                               {"reason": "x"}, format="json").status_code == 404
    assert as_user("dana").put(hold_url, {"reason": ""}, format="json").status_code == 400


def test_an_object_store_loses_the_upload_and_every_cached_frame(kit):
    """The non-file-system branch (S3 in production) walks the frame prefix; Django's in-memory storage stands
    in for the bucket here (the cluster tests run the real S3 server)."""
    bucket = InMemoryStorage()
    sha = "ab" * 32
    names = [f"assets/ab/ab/{sha}.jpg", frame_cache.frame_storage_name(sha, 0), frame_cache.thumb_storage_name(sha),
             frame_cache.blurred_frame_storage_name(sha, "k1", 0)]
    for name in names:
        bucket.save(name, ContentFile(b"x"))
    bucket.save("frames/" + "cd" * 32 + "/0.jpg", ContentFile(b"another asset's frame"))
    delete_asset_files(name=names[0], sha256=sha, storage=bucket)
    assert not any(bucket.exists(name) for name in names)
    assert bucket.exists("frames/" + "cd" * 32 + "/0.jpg")
    delete_asset_files(name=names[0], sha256=sha, storage=bucket)  # again: nothing left, no error


# --- Device telemetry ----------------------------------------------------------------------------------------


def sample(kit: DeviceKit, *, age: timedelta) -> DeviceTelemetry:
    return DeviceTelemetry.objects.create(device=kit.device, received_at=timezone.now() - age, fps=10.0)


def test_the_daily_job_deletes_telemetry_past_its_bound_in_every_project_and_reports_the_count(kit, settings):
    settings.LOUPE_TELEMETRY_DAYS = 30
    other = make_device_kit(make_project("bus-boarding"), camera="bus-1")
    old = [sample(kit, age=timedelta(days=31)), sample(kit, age=timedelta(days=45)), sample(other, age=OLD)]
    recent = [sample(kit, age=timedelta(days=29)), sample(other, age=timedelta(hours=1))]
    assert plan_prune(project=kit.project).telemetry_samples == 2  # neither project has a policy
    jobs.send("retention.prune")
    assert set(DeviceTelemetry.objects.values_list("pk", flat=True)) == {s.pk for s in recent}
    assert not DeviceTelemetry.objects.filter(pk__in=[s.pk for s in old]).exists()
    assert RetentionRun.objects.get(project=kit.project, dry_run=False).report["telemetry_deleted"] == 2
    assert RetentionRun.objects.get(project=other.project, dry_run=False).report["telemetry_deleted"] == 1


def test_a_dry_run_counts_the_expired_telemetry_and_deletes_none(kit, settings):
    settings.LOUPE_TELEMETRY_DAYS = 7
    sample(kit, age=timedelta(days=8))
    sample(kit, age=timedelta(days=1))
    assert services.dry_run(project=kit.project).report["telemetry_deleted"] == 1
    assert DeviceTelemetry.objects.count() == 2
