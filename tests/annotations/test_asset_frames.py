"""Clip frames and thumbnails (API.md `GET /api/v1/assets/{sha256}/frames/{n}.jpg`, `/thumb.jpg`).

The frames served must equal a sequential read of the clip, and each clip is decoded once however many
requests race for it.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.db import connection
from rest_framework.test import APIClient

from annotations import frames
from annotations.models import Asset
from tests.clips import FRAMES, HEIGHT, WIDTH, bar_left, numbered_clip
from tests.factories import (
    add_member,
    as_user,
    jpeg_bytes,
    make_device_kit,
    make_items,
    make_project,
    png_bytes,
    prediction_event,
)


def sequential_read(body: bytes) -> list[np.ndarray]:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
        tmp.write(body)
        tmp.flush()
        capture = cv2.VideoCapture(tmp.name, cv2.CAP_FFMPEG)
        out = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            out.append(frame)
        capture.release()
    return out


def decode(response) -> np.ndarray:
    data = b"".join(response.streaming_content)
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None
    return pixels


def upload(body: bytes, content_type: str) -> str:
    """Upload through the device API and point an event at it, so the project holds the asset."""
    kit = make_device_kit()
    assert kit.put_media(body, content_type=content_type).status_code == 201
    sha = hashlib.sha256(body).hexdigest()
    assert kit.post_events([prediction_event("e1", sha)]).json()["results"][0]["status"] == "created"
    add_member(kit.project, "alice", "annotator")
    add_member(make_project("bus-boarding"), "charlie", "annotator")
    return sha


@pytest.fixture
def extractions(monkeypatch) -> list[str]:
    """Count real decodes (the real function runs; only the calls are recorded)."""
    calls: list[str] = []
    real = frames.extract_clip

    def counting(source: Path, out_dir: Path, *, max_frames: int) -> frames.Extraction:
        calls.append(source.name)
        return real(source, out_dir, max_frames=max_frames)

    monkeypatch.setattr(frames, "extract_clip", counting)
    return calls


@pytest.mark.django_db
def test_every_frame_served_equals_the_sequential_read_and_the_clip_is_decoded_once(extractions, _media_root):
    body = numbered_clip()
    reference = sequential_read(body)
    assert len(reference) == FRAMES
    sha = upload(body, "video/mp4")
    alice = as_user("alice")
    for n in [5, *range(FRAMES)]:  # a frame in the middle first: nothing depends on asking in order
        response = alice.get(f"/api/v1/assets/{sha}/frames/{n}.jpg")
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "image/jpeg"
        served = decode(response).astype(np.int16)
        error = np.abs(served - reference[n]).mean()
        assert error < 2.5  # JPEG at quality 90
        for neighbour in (n - 1, n + 1):
            if 0 <= neighbour < FRAMES:
                assert np.abs(served - reference[neighbour]).mean() > 3 * error + 1
        assert abs(bar_left(served) - 6 * n) <= 1
    assert len(extractions) == 1
    cached = sorted(p.name for p in (_media_root / "frames" / sha).iterdir())
    assert cached == sorted([*(f"{n}.jpg" for n in range(FRAMES)), "thumb.jpg", "done"])


@pytest.mark.django_db
def test_frames_are_revalidated_with_an_etag(_media_root):
    """Not immutable: a project may start blurring faces, and then the browser must get the blurred frame."""
    sha = upload(numbered_clip(), "video/mp4")
    alice = as_user("alice")
    first = alice.get(f"/api/v1/assets/{sha}/frames/3.jpg")
    assert first["Cache-Control"] == "private, no-cache"
    assert first["X-Content-Type-Options"] == "nosniff"
    etag = first["ETag"]
    again = alice.get(f"/api/v1/assets/{sha}/frames/3.jpg", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    other = alice.get(f"/api/v1/assets/{sha}/frames/4.jpg")
    assert other["ETag"] != etag


@pytest.mark.django_db
@pytest.mark.parametrize(("n", "status", "code"), [
    (str(FRAMES), 404, "frame_out_of_range"),
    ("100000", 404, "frame_out_of_range"),
    ("-1", 400, "invalid_frame_index"),
    ("1.5", 400, "invalid_frame_index"),
    ("abc", 400, "invalid_frame_index"),
    ("99999999999999999999", 400, "invalid_frame_index"),
])
def test_bad_or_missing_frame_index_is_refused_with_a_json_error(extractions, n, status, code, _media_root):
    sha = upload(numbered_clip(), "video/mp4")
    response = as_user("alice").get(f"/api/v1/assets/{sha}/frames/{n}.jpg")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert extractions == []  # refused before any decoding
    assert not (_media_root / "frames").exists()


@pytest.mark.django_db
def test_outsiders_and_anonymous_callers_get_nothing(extractions, _media_root):
    sha = upload(numbered_clip(), "video/mp4")
    for path in (f"/api/v1/assets/{sha}/frames/0.jpg", f"/api/v1/assets/{sha}/thumb.jpg"):
        response = as_user("charlie").get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert APIClient().get(path).status_code == 401
    unknown = as_user("alice").get(f"/api/v1/assets/{'0' * 64}/frames/0.jpg")
    assert unknown.status_code == 404
    assert extractions == []


@pytest.mark.django_db
def test_frame_zero_of_a_jpeg_is_the_image_itself_and_there_is_no_frame_one(_media_root):
    body = jpeg_bytes(640, 480)
    sha = upload(body, "image/jpeg")
    alice = as_user("alice")
    response = alice.get(f"/api/v1/assets/{sha}/frames/0.jpg")
    assert response.status_code == 200 and b"".join(response.streaming_content) == body
    assert alice.get(f"/api/v1/assets/{sha}/frames/1.jpg").json()["error"]["code"] == "frame_out_of_range"


@pytest.mark.django_db
def test_frame_zero_of_a_png_is_served_as_jpeg(_media_root):
    body = png_bytes(64, 48)
    sha = upload(body, "image/png")
    response = as_user("alice").get(f"/api/v1/assets/{sha}/frames/0.jpg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert decode(response).shape == (48, 64, 3)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["image", "clip"])
def test_thumbnail_is_a_small_jpeg_of_the_image_or_first_frame(kind, _media_root):
    body, content_type = (jpeg_bytes(640, 480), "image/jpeg") if kind == "image" else (numbered_clip(), "video/mp4")
    sha = upload(body, content_type)
    response = as_user("alice").get(f"/api/v1/assets/{sha}/thumb.jpg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["ETag"] and response["Cache-Control"] == "private, no-cache"
    thumb = decode(response)
    if kind == "image":
        assert thumb.shape == (240, 320, 3)
    else:
        assert thumb.shape == (HEIGHT, WIDTH, 3)  # already small: never upscaled
        assert bar_left(thumb) <= 1  # frame 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_decode_the_clip_once(postgres, extractions, _media_root):
    sha = upload(numbered_clip(), "video/mp4")
    start = threading.Barrier(6)
    statuses: list[int] = []

    def fetch(n: int) -> None:
        try:
            client = as_user("alice")
            start.wait()
            statuses.append(client.get(f"/api/v1/assets/{sha}/frames/{n}.jpg").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=fetch, args=(n,)) for n in (0, 3, 7, 11, 19, 23)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert len(extractions) == 1


def test_extraction_is_bounded_by_the_frame_limit(tmp_path):
    source = tmp_path / "clip.mp4"
    source.write_bytes(numbered_clip())
    result = frames.extract_clip(source, tmp_path / "out", max_frames=5)
    assert result.frames == 5
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == sorted(
        [*(f"{n}.jpg" for n in range(5)), "thumb.jpg"])
    assert (tmp_path / "out" / "done").read_text() == "5"


def test_a_file_that_does_not_decode_leaves_no_done_marker(tmp_path):
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
    with pytest.raises(frames.FramesUnreadable):
        frames.extract_clip(source, tmp_path / "out", max_frames=10)
    assert not (tmp_path / "out" / "done").exists()


@pytest.mark.django_db
def test_claimed_item_carries_the_frame_url_template(_media_root):
    project = make_project("clips")
    [item] = make_items(project, 1)
    add_member(project, "alice", "annotator")
    body = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json").json()
    assert body["asset"]["frames_url"] == f"/api/v1/assets/{item.asset.sha256}/frames/{{n}}.jpg"


@pytest.mark.django_db
def test_a_client_that_accepts_only_jpeg_gets_the_frame_and_json_errors(_media_root):
    sha = upload(numbered_clip(), "video/mp4")
    alice = as_user("alice")
    assert alice.get(f"/api/v1/assets/{sha}/frames/0.jpg", HTTP_ACCEPT="image/jpeg").status_code == 200
    assert alice.get(f"/api/v1/assets/{sha}/thumb.jpg", HTTP_ACCEPT="image/jpeg").status_code == 200
    missing = alice.get(f"/api/v1/assets/{sha}/frames/999.jpg", HTTP_ACCEPT="image/jpeg")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "frame_out_of_range"


@pytest.mark.django_db
def test_a_stored_clip_damaged_since_upload_is_422_not_500(_media_root):
    sha = upload(numbered_clip(), "video/mp4")
    (_media_root / Asset.objects.get(sha256=sha).file.name).write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\0" * 64)
    response = as_user("alice").get(f"/api/v1/assets/{sha}/frames/0.jpg")
    assert response.status_code == 422 and response.json()["error"]["code"] == "corrupt_media"
    assert not (_media_root / "frames" / sha / "done").exists()
