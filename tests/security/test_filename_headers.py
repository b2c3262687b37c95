"""Header injection through file names: every download whose name comes from user-editable text (a model's name,
a project's slug) answers 200 with a Content-Disposition that holds no raw CR/LF, whatever the name; names with
control characters are refused where people type them."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from activelearning.datasets.downloads import attachment_header
from activelearning.datasets.models import DatasetVersion, ExportJob
from activelearning.registry.models import ModelVersion
from annotations.models import Project
from tests.factories import add_member, as_user, make_device_kit, make_project
from tests.onnx_models import detector_bytes

pytestmark = pytest.mark.django_db

INJECTED = "a\r\nSet-Cookie: x=1"


def assert_clean_attachment(response, expected_in_name: str) -> None:
    header = response["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    assert header.startswith("attachment; filename")
    assert expected_in_name in header
    assert "x=1" not in response.cookies  # the injected header did not become a cookie


@pytest.mark.parametrize("name", [INJECTED, 'quote"and\\slash', "../../etc/passwd", "modèle-caméra", "\u2028x"])
def test_attachment_header_encodes_any_name_on_one_line(name):
    header = attachment_header(name)
    assert "\r" not in header and "\n" not in header and "\u2028" not in header
    assert "/" not in header.split("filename", 1)[1].replace("utf-8''", "")  # no path survives as a separator


def test_a_champion_whose_name_holds_crlf_still_downloads_for_devices_and_admins(_media_root):
    kit = make_device_kit(make_project("store-counts", classes=("person", "bag")))
    add_member(kit.project, "dana", "admin")
    upload = as_user("dana").post(f"/api/v1/projects/{kit.project.pk}/models/", {
        "file": SimpleUploadedFile("model.onnx", detector_bytes(), content_type="application/octet-stream"),
        "name": "people-det"}, format="multipart")
    assert upload.status_code == 201, upload.content
    model = ModelVersion.objects.get(pk=upload.json()["id"])
    # A row that already holds such a name (written before names were checked, or by a script).
    ModelVersion.objects.filter(pk=model.pk).update(name=INJECTED)
    assert as_user("dana").post(f"/api/v1/models/{model.pk}/promote", {"to": "champion"},
                                format="json").status_code == 200

    device = APIClient(HTTP_AUTHORIZATION=f"Bearer {kit.token}")
    current = device.get("/api/v1/models/current")
    assert current.status_code == 200
    for client in (device, as_user("dana")):
        download = client.get(current.json()["url"])
        assert download.status_code == 200
        assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == model.sha256
        assert_clean_attachment(download, "Set-Cookie")
        resumed = client.get(current.json()["url"], HTTP_RANGE="bytes=10-")
        assert resumed.status_code == 206
        assert_clean_attachment(resumed, "Set-Cookie")


@pytest.mark.parametrize("name", [INJECTED, "tab\there", "nul\x00", "line\u2028separator"])
def test_a_model_name_with_control_characters_is_refused_on_upload_naming_the_field(_media_root, name):
    project = make_project("store-counts", classes=("person", "bag"))
    add_member(project, "dana", "admin")
    response = as_user("dana").post(f"/api/v1/projects/{project.pk}/models/", {
        "file": SimpleUploadedFile("model.onnx", detector_bytes(), content_type="application/octet-stream"),
        "name": name}, format="multipart")
    assert response.status_code == 400, response.content
    assert "name" in response.json()["error"]["details"]
    assert not ModelVersion.objects.filter(project=project).exists()


def test_an_export_of_a_project_whose_slug_holds_crlf_still_downloads(_media_root):
    project = make_project("store-counts")
    Project.objects.filter(pk=project.pk).update(slug=INJECTED)  # slugs are checked in forms only
    add_member(project, "dana", "admin")
    version = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64)
    body = b"PK\x05\x06" + b"\x00" * 18  # an empty zip
    stored = default_storage.save("exports/test/archive.zip", ContentFile(body))
    job = ExportJob.objects.create(dataset_version=version, format="coco", status="done", progress=1.0,
                                   file=stored, size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
    download = as_user("dana").get(f"/api/v1/exports/{job.pk}/file")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == body
    assert_clean_attachment(download, "coco.zip")
