"""An admin tunes routing: on the routing page she raises min_priority in the policy editor, previews it on the
project's recent events (fewer queued than the policy in force, the dropped events listed), then saves it as a
new version, which is the one in force from then on."""

from __future__ import annotations

import hashlib
import json

import pytest
from playwright.sync_api import expect

from activelearning.routing.models import RoutingPolicy
from annotations.models import AuditEvent
from reviewer.models import ReviewItem
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import jpeg_bytes, make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

SCORES = [0.5, 0.45, 0.7, 0.9, 0.97, 0.6, 0.3, 0.99, 0.65, 0.8]


def test_admin_raises_min_priority_previews_fewer_queued_and_saves(page, make_user, screenshot):
    kit = make_device_kit(make_project("corner-shop"), site="Main St", camera="door-1")
    project = kit.project
    body = jpeg_bytes()
    assert kit.put_media(body).status_code == 201
    asset = hashlib.sha256(body).hexdigest()
    events = [prediction_event(f"e{i}", asset, score=s, captured_at=f"2026-11-21T08:15:{i:02d}Z")
              for i, s in enumerate(SCORES)]
    assert all(r["status"] == "created" for r in kit.post_events(events).json()["results"])
    queued_now = ReviewItem.objects.filter(project=project).count()
    password = add_browser_member(make_user, project, "dana", "admin")
    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/routing")

    expect(page.get_by_test_id("nav-routing")).to_be_visible()
    expect(page.get_by_test_id("routing-version")).to_have_text("In force: the built-in default (no version saved yet).")
    editor = page.get_by_label("Policy document (JSON)")
    document = json.loads(editor.input_value())
    document["min_priority"] = 0.6
    editor.fill(json.dumps(document, indent=2))
    page.get_by_test_id("routing-preview-run").click()

    expect(page.get_by_test_id("routing-preview")).to_be_visible()
    expect(page.get_by_test_id("routing-current-queued")).to_have_text(str(queued_now))
    proposed = int(page.get_by_test_id("routing-proposed-queued").inner_text())
    assert proposed < queued_now
    expect(page.get_by_test_id("routing-changed")).to_contain_text(f"{queued_now - proposed} no longer queued")
    expect(page.get_by_test_id("routing-examples")).to_contain_text("Main St / door-1")
    assert RoutingPolicy.objects.filter(project=project).count() == 0  # a preview stores nothing
    page.get_by_test_id("routing-editor-form").scroll_into_view_if_needed()
    screenshot(page, "routing")

    page.get_by_test_id("routing-save").click()
    expect(page.get_by_test_id("routing-saved")).to_have_text("Saved as version 1.")
    expect(page.get_by_test_id("routing-version")).to_have_text("In force: version 1.")
    saved = RoutingPolicy.objects.get(project=project)
    assert saved.version == 1 and saved.document["min_priority"] == 0.6
    assert saved.created_by.username == "dana"
    audit = AuditEvent.objects.get(project=project, action="policy.saved")
    assert audit.actor.username == "dana" and audit.after["version"] == 1
