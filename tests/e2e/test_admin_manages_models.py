"""An admin uploads an ONNX detector on the models page, a broken file is refused with the reason, the good one
becomes champion after a confirmation, a device sees it over the air, and a second champion can be rolled back
in one click."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from playwright.sync_api import expect

from activelearning.registry.models import ModelStatus, ModelVersion
from annotations.models import AuditEvent
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_device_kit, make_project
from tests.onnx_models import detector_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def upload_in_browser(page, name: str, data: bytes) -> None:
    page.get_by_test_id("model-file").set_input_files(
        files=[{"name": f"{name}.onnx", "mimeType": "application/octet-stream", "buffer": data}])
    page.get_by_test_id("model-name").fill(name)
    page.get_by_test_id("model-upload-submit").click()


def test_admin_uploads_promotes_and_rolls_back_a_model(page, app_server, make_user, screenshot):
    project = make_project("models-store")
    kit = make_device_kit(project)
    password = add_browser_member(make_user, project, "dana", "admin")
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations

    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/models")
    upload_in_browser(page, "pickled", b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.")
    expect(page.get_by_test_id("error")).to_contain_text("pickle")
    assert not ModelVersion.objects.exists()

    first = detector_bytes(size=64)
    upload_in_browser(page, "people-det", first)
    expect(page.get_by_test_id("model-list")).to_contain_text("people-det v1")
    model = ModelVersion.objects.get()
    expect(page.get_by_test_id(f"model-status-{model.pk}")).to_have_text("candidate")
    page.get_by_test_id(f"model-promote-{model.pk}").click()
    expect(page.get_by_test_id(f"model-status-{model.pk}")).to_have_text("champion")

    device = {"Authorization": f"Bearer {kit.token}"}
    current = httpx.get(f"{app_server.url}/api/v1/models/current", headers=device)
    assert current.status_code == 200 and current.json()["sha256"] == hashlib.sha256(first).hexdigest()
    downloaded = httpx.get(f"{app_server.url}{current.json()['url']}", headers=device)
    assert downloaded.content == first

    upload_in_browser(page, "people-det", detector_bytes(size=96))
    expect(page.get_by_test_id("model-list")).to_contain_text("people-det v2")
    second = ModelVersion.objects.exclude(pk=model.pk).get()
    expect(page.get_by_test_id(f"model-status-{second.pk}")).to_have_text("candidate")
    page.get_by_test_id(f"model-promote-{second.pk}").click()
    expect(page.get_by_test_id(f"model-status-{second.pk}")).to_have_text("champion")
    expect(page.get_by_test_id(f"model-status-{model.pk}")).to_have_text("retired")
    page.get_by_test_id(f"model-eval-{second.pk}").click()
    expect(page.get_by_test_id("evaluation")).to_contain_text("Not evaluated yet")
    screenshot(page, "models")
    page.get_by_test_id(f"model-rollback-{second.pk}").click()
    expect(page.get_by_test_id(f"model-status-{model.pk}")).to_have_text("champion")
    expect(page.get_by_test_id(f"model-status-{second.pk}")).to_have_text("retired")
    assert ModelVersion.objects.get(status=ModelStatus.CHAMPION).pk == model.pk
    assert AuditEvent.objects.filter(action="model.rolled_back", actor__username="dana").exists()
    again = httpx.get(f"{app_server.url}/api/v1/models/current", headers=device)
    assert again.json()["sha256"] == hashlib.sha256(first).hexdigest()
