"""An admin watches drift: one camera's device model grew unsure in the last day while another's stayed as it
was; "Recompute now" on the drift page alerts on the drifting camera only, the alert is announced live (the
`drift.alert` push), and the camera's confidence histograms show the shift."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activelearning.monitoring.models import DriftPolicy
from annotations.models import AuditEvent, Camera
from tests.activelearning.test_drift import HEALTHY, SHIFTED, predictions
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_sees_the_drifting_camera_alert_live_and_its_histograms(page, make_user, screenshot):
    kit = make_device_kit(make_project("night-store"), site="Main St", camera="door-1")
    project = kit.project
    DriftPolicy.objects.create(project=project, min_boxes=100)
    door = Camera.objects.get(site__project=project, name="door-1")
    tills = Camera.objects.create(site=door.site, name="tills", device=door.device)
    now = timezone.now()
    week_ago, day_ago = now - dt.timedelta(days=7, hours=23), now - dt.timedelta(hours=23)
    every = dt.timedelta(hours=1)
    predictions(door, week_ago, day_ago, every=every, scores=HEALTHY)
    predictions(door, day_ago, now, every=every, scores=SHIFTED)  # unsure since yesterday
    predictions(tills, week_ago, now, every=every, scores=HEALTHY)
    password = add_browser_member(make_user, project, "dana", "admin")
    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/drift")

    expect(page.get_by_test_id(f"drift-status-{door.pk}")).to_have_text("Not computed yet")
    # Nothing measured yet is not "no camera is drifting": unknown is not OK.
    expect(page.get_by_test_id("drift-summary")).to_have_text(
        "Not enough data: no camera has enough samples yet to tell whether it drifts.")
    page.get_by_test_id("drift-recompute").click()

    expect(page.get_by_test_id("drift-announcement")).to_have_text("Drift alert on Main St / door-1: Confidence PSI.")
    expect(page.get_by_test_id(f"drift-status-{door.pk}")).to_contain_text("Confidence PSI alert")
    # Its confidences were measured and held; no reviews or flags yet, so that part is said to be unknown.
    expect(page.get_by_test_id(f"drift-status-{tills.pk}")).to_have_text(
        "OK so far · not enough data for Correction rate, Count error")
    expect(page.get_by_test_id("drift-summary")).to_have_text("1 of 2 cameras alerting.")
    row = page.get_by_test_id(f"drift-row-{door.pk}")
    row.get_by_text("Confidence histograms").click()
    expect(page.get_by_test_id(f"drift-histogram-{door.pk}")).to_be_visible()
    assert AuditEvent.objects.filter(project=project, action="drift.alert", object_id=str(door.pk)).count() == 1
    screenshot(page, "drift")
