"""An admin imports labels made in Label Studio: from the Models page to the Import page, picks the task list,
sees what it would queue before anything is written, imports it, and the images wait in the queue with the
Label Studio boxes as pre-labels (in image pixels). The same file again queues nothing and says so; a file
with a label the project lacks is refused saying where, and nothing is stored."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from playwright.sync_api import expect

from annotations.models import Asset, AuditEvent, Prediction
from reviewer.models import ReviewItem
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import jpeg_bytes, make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def rect(x: float, y: float, w: float, h: float, label: str = "person") -> dict[str, Any]:
    return {"type": "rectanglelabels", "from_name": "label", "to_name": "image",
            "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]}}


def test_admin_checks_then_imports_a_label_studio_file_and_a_second_import_adds_nothing(page, app_server, make_user,
                                                                                        screenshot):
    project = make_project("import-store", classes=("person", "bag"))
    kit = make_device_kit(project, site="North")
    shas = []
    for seed in (1, 2):
        body = jpeg_bytes(seed=seed)  # 320×240
        assert kit.put_media(body).status_code in (200, 201)
        shas.append(hashlib.sha256(body).hexdigest())
    tasks = [{"data": {"image": f"/data/upload/7/8864c67b-{shas[0]}.jpg"},
              "annotations": [{"result": [rect(10, 20, 25, 50), rect(50, 50, 10, 10, "bag")]}]},
             {"data": {"image": f"s3://bucket/{shas[1]}.jpg"}, "annotations": [{"result": [rect(0, 0, 50, 50)]}]}]
    file = {"name": "project-7-at-2026-12-03.json", "mimeType": "application/json",
            "buffer": json.dumps(tasks).encode()}
    password = add_browser_member(make_user, project, "dana", "admin")

    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/models")
    page.get_by_test_id("models-import-link").click()
    expect(page.get_by_role("heading", name="Import labels")).to_be_visible()
    page.get_by_test_id("import-file").set_input_files(file)
    page.get_by_test_id("import-check").click()
    expect(page.get_by_test_id("import-report")).to_have_text(
        "A Label Studio task list: would queue 2 images with 3 boxes for review.")
    assert not ReviewItem.objects.filter(project=project).exists()  # the check wrote nothing
    screenshot(page, "import-checked")
    page.get_by_test_id("import-run").click()
    expect(page.get_by_test_id("import-done")).to_contain_text("queued 2 images with 3 boxes for review")

    items = list(ReviewItem.objects.filter(project=project).select_related("prediction", "asset").order_by("pk"))
    assert [i.asset.sha256 for i in items] == shas and {i.status for i in items} == {"pending"}
    assert {i.prediction.model_name for i in items} == {"import:label-studio"}
    assert items[0].prediction.detections == [{"label": "person", "box": [32.0, 48.0, 80.0, 120.0]},
                                              {"label": "bag", "box": [160.0, 120.0, 32.0, 24.0]}]
    assert AuditEvent.objects.filter(action="labels.imported", actor__username="dana").count() == 1

    # The same file again: nothing new, and the page says so before anything is written.
    page.get_by_test_id("import-file").set_input_files(file)
    page.get_by_test_id("import-check").click()
    expect(page.get_by_test_id("import-report")).to_contain_text(
        "would queue 0 images with 0 boxes for review; 2 already in Loupe with these labels")
    expect(page.get_by_test_id("import-run")).to_be_disabled()

    # A label the project does not have: refused, saying where; nothing stored.
    tasks[1]["annotations"][0]["result"][0]["value"]["rectanglelabels"] = ["dog"]
    page.get_by_test_id("import-file").set_input_files({**file, "buffer": json.dumps(tasks).encode()})
    page.get_by_test_id("import-check").click()
    expect(page.get_by_test_id("import-where")).to_have_text(
        "Refused at task 1, annotation 0, result 0, field value.rectanglelabels, label dog. Nothing was stored.")
    assert ReviewItem.objects.filter(project=project).count() == 2
    assert Prediction.objects.filter(project=project, model_name__startswith="import:").count() == 2
    assert Asset.objects.count() == 2
