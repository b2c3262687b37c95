"""Assets are per project (issue 14, finding 1): the file store is shared by content hash, but whether an asset
exists, may be named by an event, and may be read is decided by the asking project's `AssetHolding` — and, for
a manager or operator, by their sites.

Cast: project "store-counts" (A, blurs faces) and project "bus-boarding" (B, does not), each with a device;
members are created per test.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any

import pytest
from django.apps import apps

from annotations.models import Asset, AssetHolding, Prediction, Project, Site
from reviewer.models import ReviewItem
from tests.faces import encode_jpeg, scene_with_face
from tests.factories import (
    DeviceKit,
    add_member,
    as_user,
    jpeg_bytes,
    make_asset,
    make_device_kit,
    make_project,
    prediction_event,
)

PATHS = ("", "/frames/0.jpg", "/thumb.jpg")


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def sha_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def upload(kit: DeviceKit, body: bytes, event_id: str) -> str:
    """The device uploads the frame and reports an event on it; the frame's sha256."""
    assert kit.put_media(body).status_code in (200, 201)
    result = kit.post_events([prediction_event(event_id, sha_of(body))]).json()["results"][0]
    assert result["status"] == "created", result
    return sha_of(body)


def head(kit: DeviceKit, sha: str) -> int:
    return kit.client.head(f"/api/v1/media/{sha}", **kit.headers()).status_code


def two_projects(*, a_blurs: bool = False) -> tuple[DeviceKit, DeviceKit]:
    a = make_device_kit(make_project("store-counts"))
    b = make_device_kit(make_project("bus-boarding"), site="Depot")
    if a_blurs:
        Project.objects.filter(pk=a.project.pk).update(blur_faces=True)
    return a, b


@pytest.mark.django_db
def test_an_event_naming_another_projects_asset_is_rejected_alone_and_nothing_is_stored():
    a, b = two_projects()
    theirs = upload(b, jpeg_bytes(seed=1), "b-1")
    ours = jpeg_bytes(seed=2)
    assert a.put_media(ours).status_code == 201
    results = a.post_events([prediction_event("a-1", theirs), prediction_event("a-2", sha_of(ours))]).json()["results"]
    assert results[0] == {"id": "a-1", "status": "rejected", "error": {
        "code": "asset_missing", "message": "The asset has not been uploaded; PUT /api/v1/media/{sha256} first.",
        "details": {"asset": theirs}}}
    assert results[1]["status"] == "created"  # the rest of the batch is stored
    asset = Asset.objects.get(sha256=theirs)
    assert not Prediction.objects.filter(project=a.project, asset=asset).exists()
    assert not ReviewItem.objects.filter(project=a.project, asset=asset).exists()
    assert not AssetHolding.objects.filter(project=a.project, asset=asset).exists()
    # What an unknown hash gets, word for word: the device learns nothing about B.
    unknown = a.post_events([prediction_event("a-3", "f" * 64)]).json()["results"][0]
    assert unknown["error"] | {"details": {}} == results[0]["error"] | {"details": {}}


@pytest.mark.django_db
def test_a_member_of_another_project_gets_404_for_its_asset_even_after_naming_it_in_an_event():
    a, b = two_projects()
    theirs = upload(b, jpeg_bytes(seed=1), "b-1")
    a.post_events([prediction_event("a-1", theirs)])  # the attack of the review: refer to it, then read it
    add_member(a.project, "ann", "admin")
    add_member(b.project, "bea", "annotator")
    for path in PATHS:
        refused = as_user("ann").get(f"/api/v1/assets/{theirs}{path}")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
        assert as_user("bea").get(f"/api/v1/assets/{theirs}{path}").status_code == 200


@pytest.mark.django_db
def test_head_media_answers_for_the_devices_own_project_only():
    a, b = two_projects()
    theirs = upload(b, jpeg_bytes(seed=1), "b-1")
    ours = upload(a, jpeg_bytes(seed=2), "a-1")
    assert head(a, theirs) == 404  # the same answer as for a hash nobody has
    assert head(a, "e" * 64) == 404
    assert head(a, ours) == 200
    assert head(b, theirs) == 200 and head(b, ours) == 404


@pytest.mark.django_db
def test_a_device_must_send_the_real_bytes_of_another_projects_hash_before_its_project_holds_it():
    a, b = two_projects()
    body = jpeg_bytes(seed=1)
    theirs = upload(b, body, "b-1")
    forged = a.put_media(jpeg_bytes(seed=9), sha256=theirs)  # knowing the hash is not having the bytes
    assert forged.status_code == 409 and forged.json()["error"]["code"] == "hash_mismatch"
    assert head(a, theirs) == 404
    mislabelled = a.put_media(body, content_type="image/png")  # refused as new bytes declared wrongly are
    assert mislabelled.status_code == 415 and mislabelled.json()["error"]["code"] == "content_type_mismatch"
    assert a.post_events([prediction_event("a-1", theirs)]).json()["results"][0]["status"] == "rejected"
    uploaded = a.put_media(body)
    assert uploaded.status_code == 201  # as for new bytes: nothing says B had them
    assert uploaded.json()["sha256"] == theirs
    assert a.put_media(body).status_code == 200  # now idempotent for A too
    assert head(a, theirs) == 200
    assert Asset.objects.filter(sha256=theirs).count() == 1  # still stored once


@pytest.mark.django_db
def test_a_site_scoped_operator_sees_the_thumbnails_of_their_sites_only():
    project = make_project("store-counts")
    north = make_device_kit(project, site="North")
    south = make_device_kit(project, site="South")
    at_north = upload(north, jpeg_bytes(seed=1), "n-1")
    at_south = upload(south, jpeg_bytes(seed=2), "s-1")
    add_member(project, "otto", "operator", sites=[Site.objects.get(project=project, name="North")])
    add_member(project, "mia", "manager", sites=[Site.objects.get(project=project, name="South")])
    add_member(project, "ada", "admin")
    for path in PATHS:
        assert as_user("otto").get(f"/api/v1/assets/{at_north}{path}").status_code == 200
        assert as_user("otto").get(f"/api/v1/assets/{at_south}{path}").status_code == 404
        assert as_user("mia").get(f"/api/v1/assets/{at_south}{path}").status_code == 200
        assert as_user("mia").get(f"/api/v1/assets/{at_north}{path}").status_code == 404
        assert as_user("ada").get(f"/api/v1/assets/{at_south}{path}").status_code == 200


@pytest.mark.django_db
def test_the_same_bytes_uploaded_by_two_projects_are_read_by_each_with_its_own_blur_setting():
    a, b = two_projects(a_blurs=True)
    body = encode_jpeg(scene_with_face(96).image)
    sha = upload(b, body, "b-1")
    assert a.put_media(body).status_code == 201
    assert upload(a, body, "a-1") == sha
    add_member(a.project, "ann", "annotator")
    add_member(b.project, "bea", "annotator")
    blurred = body_of(as_user("ann").get(f"/api/v1/assets/{sha}"))
    assert blurred != body and blurred[:2] == b"\xff\xd8"  # A blurs faces: a re-encoded JPEG
    assert body_of(as_user("bea").get(f"/api/v1/assets/{sha}")) == body  # B does not
    assert AssetHolding.objects.filter(asset__sha256=sha).count() == 2


@pytest.mark.django_db
def test_blur_is_decided_by_the_projects_that_admit_the_caller_only():
    """A blurring project where the caller may not see the asset (not at their sites) does not decide how they
    see it through another project."""
    a, b = two_projects(a_blurs=True)
    north = a  # A's first device is at "Main St"
    south = make_device_kit(a.project, site="South")
    body = encode_jpeg(scene_with_face(96).image)
    sha = upload(south, body, "a-south")
    upload(b, body, "b-1")
    add_member(a.project, "otto", "operator", sites=[north.device.site])
    add_member(b.project, "otto", "admin")
    assert body_of(as_user("otto").get(f"/api/v1/assets/{sha}")) == body
    assert as_user("otto").get(f"/api/v1/assets/{sha}?original=1").status_code == 200


@pytest.mark.django_db
def test_the_migration_gives_each_project_the_assets_its_predictions_and_devices_already_had():
    a, b = two_projects()
    predicted, uploaded_only, unrelated = make_asset("p"), make_asset("u"), make_asset("x")
    Asset.objects.filter(pk=uploaded_only.pk).update(uploaded_by=b.device)
    for project in (a.project, b.project):
        Prediction.objects.create(project=project, asset=predicted, event_type="prediction", payload_hash="x",
                                  captured_at="2026-11-21T08:15:30Z", received_at="2026-11-21T08:15:30Z")
    AssetHolding.objects.all().delete()
    migration = importlib.import_module("annotations.migrations.0007_asset_holdings")
    migration.backfill_holdings(apps, None)
    migration.backfill_holdings(apps, None)  # idempotent
    held = set(AssetHolding.objects.values_list("project__slug", "asset_id"))
    assert held == {("store-counts", predicted.pk), ("bus-boarding", predicted.pk),
                    ("bus-boarding", uploaded_only.pk)}
    assert not AssetHolding.objects.filter(asset=unrelated).exists()


@pytest.mark.django_db
def test_another_projects_predictions_on_the_same_bytes_do_not_shape_the_blurred_variant():
    """Where heads are blurred comes from the caller's projects' boxes only: B's detections are B's data."""
    a, b = two_projects(a_blurs=True)
    body = encode_jpeg(scene_with_face(96).image)
    sha = upload(a, body, "a-1")
    upload(b, body, "b-1")
    add_member(a.project, "ann", "annotator")
    before = as_user("ann").get(f"/api/v1/assets/{sha}/frames/0.jpg")["ETag"]
    people = [{"label": "person", "score": 0.9, "box": [40.0, 30.0, 60.0, 150.0]}]
    assert b.post_events([prediction_event("b-2", sha, detections=people)]).json()["results"][0]["status"] == "created"
    assert as_user("ann").get(f"/api/v1/assets/{sha}/frames/0.jpg")["ETag"] == before
    assert a.post_events([prediction_event("a-2", sha, detections=people)]).json()["results"][0]["status"] == "created"
    assert as_user("ann").get(f"/api/v1/assets/{sha}/frames/0.jpg")["ETag"] != before  # A's own boxes do
