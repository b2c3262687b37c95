"""Polyglots and lying content types: what a device, an admin's model upload or an import sends is stored only
as media (or a model) that decoded as what it claims, and every file is served back with its stored type,
`X-Content-Type-Options: nosniff` and never as HTML.

(tests/activelearning/test_media_upload.py has the basics: mismatched magic bytes, bombs declared in a
header, truncated and corrupt files, an MP4 header followed by garbage.)
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from activelearning.registry.models import ModelVersion
from annotations.models import Asset
from tests.factories import DeviceKit, add_member, jpeg_bytes, mp4_bytes, png_bytes, prediction_event
from tests.onnx_models import detector_bytes

pytestmark = pytest.mark.django_db

HTML = b"<!DOCTYPE html><html><body><script>window.__xss=1</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=1"><rect width="10" height="10"/></svg>'
JS = b"window.__xss=1;//"
SERVED_TYPES = {"image/jpeg", "image/png", "video/mp4"}


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Evil.class", b"\xca\xfe\xba\xbe" + b"\0" * 32)
        archive.writestr("index.html", HTML)
    return buffer.getvalue()


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file() and ".upload-tmp" not in p.parts]


def assert_refused(response: Any, statuses: tuple[int, ...], media: Path) -> None:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert Asset.objects.count() == 0
    assert stored_files(media) == []


# --- Not media at all, whatever the claimed type ---------------------------------------------------------


@pytest.mark.parametrize("body", [HTML, SVG, JS, b"\xef\xbb\xbf" + HTML, b"  \n" + HTML, zip_bytes(),
                                  b"GIF89a\x01\x00\x01\x00" + HTML, b"%PDF-1.7\n" + HTML],
                         ids=["html", "svg", "js", "bom-html", "space-html", "zip", "gif-html", "pdf"])
@pytest.mark.parametrize("claimed", ["image/jpeg", "image/png", "video/mp4"])
def test_markup_scripts_and_archives_are_refused_whatever_type_they_claim(kit: DeviceKit, _media_root: Path,
                                                                          body: bytes, claimed: str) -> None:
    assert_refused(kit.put_media(body, claimed), (415,), _media_root)


@pytest.mark.parametrize("claimed", ["text/html", "image/svg+xml", "application/javascript", "application/zip",
                                     "image/jpeg, text/html", "text/html; charset=image/jpeg"])
def test_an_image_sent_as_a_scriptable_type_is_refused(kit: DeviceKit, _media_root: Path, claimed: str) -> None:
    assert_refused(kit.put_media(jpeg_bytes(), claimed), (415,), _media_root)


@pytest.mark.parametrize(("body", "claimed"), [
    (b"\xff\xd8\xff\xe0" + HTML, "image/jpeg"),  # the JPEG magic, then markup
    (b"\x89PNG\r\n\x1a\n" + HTML, "image/png"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + HTML, "video/mp4"),
], ids=["jpeg-magic", "png-magic", "mp4-magic"])
def test_magic_bytes_followed_by_markup_do_not_decode_and_are_refused(kit: DeviceKit, _media_root: Path,
                                                                     body: bytes, claimed: str) -> None:
    assert_refused(kit.put_media(body, claimed), (415, 422), _media_root)


def test_a_real_decompression_bomb_is_refused_before_decoding(kit: DeviceKit, _media_root: Path,
                                                              settings: Any) -> None:
    """A genuine PNG, a few kB on the wire, that would decode to more pixels than allowed."""
    settings.LOUPE_MAX_PIXELS = 1_000_000
    ok, encoded = cv2.imencode(".png", np.zeros((1500, 1500), dtype=np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok and len(encoded) < 20_000
    response = kit.put_media(encoded.tobytes(), "image/png")
    assert_refused(response, (413,), _media_root)
    assert response.json()["error"]["code"] == "too_many_pixels"


# --- Real media carrying a payload: stored as the media it decodes as, served only as that -----------------


def served(kit: DeviceKit, body: bytes, claimed: str, member: str) -> dict[str, Any]:
    """Upload `body`, reference it in an event, and fetch it (and its derived images) as a member."""
    upload = kit.put_media(body, claimed)
    assert upload.status_code == 201, upload.content
    sha = hashlib.sha256(body).hexdigest()
    asset = Asset.objects.get(sha256=sha)
    assert asset.content_type == claimed  # the decoded type, which the claim had to match
    assert kit.post_events([prediction_event(f"ev-{sha[:8]}", sha)]).status_code == 200
    client = APIClient()
    client.force_authenticate(User.objects.get(username=member))
    return {"file": client.get(f"/api/v1/assets/{sha}"), "thumb": client.get(f"/api/v1/assets/{sha}/thumb.jpg"),
            "frame": client.get(f"/api/v1/assets/{sha}/frames/0.jpg")}


def content(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(("body", "claimed"), [
    (jpeg_bytes() + HTML, "image/jpeg"),
    (jpeg_bytes(seed=2) + zip_bytes(), "image/jpeg"),  # GIFAR-style: an archive appended to a picture
    (png_bytes() + SVG, "image/png"),
    (jpeg_bytes(seed=3)[:2] + b"\xff\xfe\x00\x50" + HTML.ljust(78) + jpeg_bytes(seed=3)[2:], "image/jpeg"),
], ids=["jpeg+html", "jpeg+zip", "png+svg", "jpeg-comment-html"])
def test_a_picture_carrying_markup_is_only_ever_served_as_that_picture(kit: DeviceKit, body: bytes,
                                                                       claimed: str) -> None:
    add_member(kit.project, "ann", "annotator")
    responses = served(kit, body, claimed, "ann")
    assert responses["file"].status_code == 200
    assert content(responses["file"]) == body  # stored as sent, decoded and verified
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.status_code)
        assert response["Content-Type"] in SERVED_TYPES, (name, response["Content-Type"])
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert "html" not in response["Content-Type"] and "svg" not in response["Content-Type"]
    assert responses["file"]["Content-Type"] == claimed
    # The thumbnail is re-encoded by the server: the payload does not survive. (Frame 0 of a still is the
    # still itself, served under the same headers.)
    assert b"<script" not in content(responses["thumb"]) and b"<svg" not in content(responses["thumb"])


def test_a_clip_with_trailing_markup_is_served_as_video(kit: DeviceKit) -> None:
    add_member(kit.project, "ann", "annotator")
    body = mp4_bytes() + HTML
    response = served(kit, body, "video/mp4", "ann")["file"]
    assert response.status_code == 200 and content(response) == body
    assert response["Content-Type"] == "video/mp4" and response["X-Content-Type-Options"] == "nosniff"


# --- Model uploads and imports ------------------------------------------------------------------------------


@pytest.fixture
def admin(kit: DeviceKit) -> APIClient:
    user = add_member(kit.project, "dana", "admin")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("body", [HTML, SVG, zip_bytes(), jpeg_bytes(), b"\x08\x01" + HTML],
                         ids=["html", "svg", "zip", "jpeg", "protobuf-prefix-html"])
def test_a_model_upload_that_is_not_an_onnx_detector_is_refused(kit: DeviceKit, admin: APIClient,
                                                                 _media_root: Path, body: bytes) -> None:
    response = admin.post(f"/api/v1/projects/{kit.project.pk}/models/",
                          {"file": SimpleUploadedFile("detector.onnx", body, content_type="application/octet-stream"),
                           "name": "people"}, format="multipart")
    assert response.status_code in (400, 415, 422), (response.status_code, response.content[:300])
    assert response.json()["error"]["code"]
    assert not ModelVersion.objects.exists()
    assert not list((_media_root / "models").rglob("*.onnx")) if (_media_root / "models").exists() else True


def test_a_model_file_is_downloaded_as_an_attachment_never_rendered(kit: DeviceKit, admin: APIClient) -> None:
    uploaded = admin.post(f"/api/v1/projects/{kit.project.pk}/models/",
                          {"file": SimpleUploadedFile("x.html", detector_bytes(), content_type="text/html"),
                           "name": "people"}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    response = admin.get(f"/api/v1/models/{uploaded.json()['id']}/file")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"  # whatever type the upload claimed
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert ".html" not in response["Content-Disposition"]


@pytest.mark.parametrize(("body", "content_type"), [
    (HTML, "application/json"), (HTML, "text/html"), (SVG, "image/svg+xml"), (zip_bytes(), "application/zip"),
    (jpeg_bytes(), "image/jpeg"),
], ids=["html-as-json", "html", "svg", "zip", "jpeg"])
def test_an_import_that_is_not_json_is_refused(kit: DeviceKit, admin: APIClient, body: bytes,
                                               content_type: str) -> None:
    response = admin.generic("POST", f"/api/v1/projects/{kit.project.pk}/imports", body, content_type)
    assert response.status_code in (400, 415), (response.status_code, response.content[:300])
    assert response.json()["error"]["code"]
