"""An admin sets how long the project keeps unreviewed media on the Settings page, puts one site under legal
hold (asked why first), previews the next prune, and the prune then deletes exactly what the preview listed:
never the held site's media nor the media of an open review item."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activelearning.retention.models import LegalHold, RetentionPolicy, RetentionRun
from activelearning.retention.services import prune_project
from annotations.models import Asset, AssetHolding, AuditEvent, Camera, Prediction
from reviewer.models import ReviewItem
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import DeviceKit, jpeg_bytes, make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def old_frame(kit: DeviceKit, seed: int) -> Asset:
    """A frame the device sent 100 days ago, with the prediction that brought it."""
    body = jpeg_bytes(seed=seed)
    assert kit.put_media(body).status_code in (200, 201)
    asset = Asset.objects.get(sha256=hashlib.sha256(body).hexdigest())
    when = timezone.now() - timedelta(days=100)
    AssetHolding.objects.filter(project=kit.project, asset=asset).update(created_at=when)
    Prediction.objects.create(project=kit.project, device=kit.device, camera=Camera.objects.get(device=kit.device),
                              asset=asset, event_type="prediction", payload_hash="x", event_id=f"e{seed}",
                              captured_at=when, received_at=when, detection_count=0)
    return asset


def test_admin_sets_retention_holds_a_site_and_the_prune_deletes_what_the_preview_said(page, app_server, make_user,
                                                                                        screenshot):
    project = make_project("retention-store")
    north, harbour = make_device_kit(project, site="North"), make_device_kit(project, site="Harbour")
    forgotten = [old_frame(north, seed) for seed in (1, 2)]
    in_review = old_frame(north, 3)
    prediction = Prediction.objects.get(asset=in_review)
    ReviewItem.objects.create(project=project, asset=in_review, prediction=prediction, site=north.device.site,
                              reason="low_confidence", priority=0.5)
    held = old_frame(harbour, 4)
    password = add_browser_member(make_user, project, "dana", "admin")

    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/settings")
    page.get_by_label("Unreviewed media (days)").fill("30")
    page.get_by_test_id("retention-save").click()
    expect(page.get_by_test_id("retention-saved")).to_have_text("Saved.")
    assert RetentionPolicy.objects.get(project=project).unreviewed_media_days == 30

    harbour_site = harbour.device.site
    page.get_by_test_id(f"retention-hold-{harbour_site.pk}").click()  # no reason yet: asked for one
    expect(page.get_by_test_id(f"retention-hold-error-{harbour_site.pk}")).to_contain_text("Say why")
    assert not LegalHold.objects.exists()
    page.get_by_label("Reason for holding Harbour").fill("case 2026-114, counsel asked")
    page.get_by_test_id(f"retention-hold-{harbour_site.pk}").click()
    expect(page.get_by_test_id(f"retention-held-{harbour_site.pk}")).to_contain_text("held by dana")
    hold = LegalHold.objects.get()
    assert (hold.site_id, hold.reason, hold.held_by.username) == (harbour_site.pk, "case 2026-114, counsel asked",
                                                                   "dana")
    assert AuditEvent.objects.filter(action="legal_hold.placed").count() == 1

    page.get_by_test_id("retention-dry-run").click()
    expect(page.get_by_test_id("retention-dry-run-report")).to_contain_text("would delete 2 media")
    dry = RetentionRun.objects.get(project=project, dry_run=True)
    assert {m["sha256"] for m in dry.report["media_deleted"]} == {a.sha256 for a in forgotten}

    run = prune_project(project=project)  # the daily job, run here at once
    assert run.report["media_deleted"] == dry.report["media_deleted"]
    assert set(Asset.objects.filter(media_deleted_at__isnull=False).values_list("sha256", flat=True)) == {
        a.sha256 for a in forgotten}
    for kept in (in_review, held):
        assert Asset.objects.get(pk=kept.pk).media_deleted_at is None
        assert AssetHolding.objects.filter(project=project, asset=kept).exists()

    page.reload()
    expect(page.get_by_test_id("retention-last-run")).to_contain_text("deleted 2 media")
    page.get_by_test_id("retention-holds").scroll_into_view_if_needed()
    screenshot(page, "retention")
