"""An admin handles an alert: a device goes silent, the sweep opens a `no_heartbeat` alert, the admin sees the
bell's count, opens the Alerts page from it, silences the alert for an hour with a reason, and the count drops;
the stored alert says who silenced it, why and until when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activelearning.alerts.models import Alert
from activelearning.alerts.services import sweep
from annotations.models import AuditEvent, Device
from annotations.services import create_device
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_sees_the_bell_opens_the_alert_and_silences_it_with_a_reason(page, make_user, screenshot):
    project = make_project("alerts-store")
    password = add_browser_member(make_user, project, "dana", "admin")
    quiet = create_device(project=project, site_name="Main St", camera_names=["door-1"]).device
    create_device(project=project, site_name="Main St", camera_names=["door-2"])
    Device.objects.update(last_seen_at=timezone.now())
    Device.objects.filter(pk=quiet.pk).update(last_seen_at=timezone.now() - timedelta(minutes=25))
    outcome = sweep()
    assert outcome["opened"] == {"no_heartbeat": 1}
    alert = Alert.objects.get()

    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}")
    bell = page.get_by_test_id("alert-bell")
    expect(page.get_by_test_id("alert-bell-count")).to_have_text("1")
    expect(bell).to_have_attribute("aria-label", "Alerts: 1 open, 1 critical, 1 unacknowledged")
    bell.click()
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    row = page.get_by_test_id(f"alert-{alert.pk}")
    expect(row).to_contain_text("No heartbeat")
    expect(row).to_contain_text(quiet.name)
    expect(row).to_contain_text("silent for 25 min")
    expect(page.get_by_test_id(f"alert-{alert.pk}-state")).to_have_text("open")

    # A silence needs a reason: refused beside the field, nothing stored.
    row.get_by_text("Silence…").click()
    page.get_by_test_id(f"alert-{alert.pk}-silence-minutes").select_option("60")
    page.get_by_test_id(f"alert-{alert.pk}-silence-reason").fill("   ")
    page.get_by_test_id(f"alert-{alert.pk}-silence-save").click()
    expect(page.get_by_test_id(f"alert-{alert.pk}-silence-reason-error")).to_have_text("Say why it is silenced.")
    assert Alert.objects.get().silenced_until is None

    page.get_by_test_id(f"alert-{alert.pk}-silence-reason").fill("Store closed for refit until noon")
    page.get_by_test_id(f"alert-{alert.pk}-silence-save").click()
    expect(page.get_by_test_id(f"alert-{alert.pk}-state")).to_contain_text("silenced")
    expect(page.get_by_test_id(f"alert-{alert.pk}-silence-info")).to_contain_text("Store closed for refit until noon")
    expect(page.get_by_test_id("alert-bell-count")).to_have_count(0)
    expect(bell).to_have_attribute("aria-label", "Alerts: none open, 1 silenced")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "alerts")

    stored = Alert.objects.select_related("silenced_by").get()
    assert stored.silenced_by.username == "dana"
    assert stored.silence_reason == "Store closed for refit until noon"
    minutes = (stored.silenced_until - timezone.now()).total_seconds() / 60
    assert 55 < minutes <= 60
    assert stored.resolved_at is None  # silenced, still open
    assert AuditEvent.objects.filter(action="alert.silenced", object_id=str(alert.pk)).count() == 1
