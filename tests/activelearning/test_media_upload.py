"""PUT/HEAD /api/v1/media/{sha256}: content-addressed, verified, sniffed and bounded uploads."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from django.test import Client

from annotations.models import Asset
from tests.factories import jpeg_bytes, make_device_kit, mp4_bytes, png_bytes

pytestmark = pytest.mark.django_db


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()]


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


def assert_nothing_stored(media: Path) -> None:
    assert Asset.objects.count() == 0
    assert stored_files(media) == []


def test_new_jpeg_is_created_with_its_facts(kit, _media_root):
    body = jpeg_bytes(320, 240)
    response = kit.put_media(body)
    assert response.status_code == 201
    data = response.json()
    assert data["sha256"] == hashlib.sha256(body).hexdigest()
    assert (data["kind"], data["content_type"], data["width"], data["height"]) == ("frame", "image/jpeg", 320, 240)
    asset = Asset.objects.get()
    assert asset.size_bytes == len(body)
    assert 0 < asset.brightness < 1 and asset.blur > 0
    assert Path(asset.file.path).read_bytes() == body
    assert stored_files(_media_root) == [Path(asset.file.path)]  # no temporary file left behind


def test_reupload_of_existing_hash_is_200_and_stores_nothing_new(kit, _media_root):
    body = jpeg_bytes()
    assert kit.put_media(body).status_code == 201
    response = kit.put_media(body)
    assert response.status_code == 200
    assert Asset.objects.count() == 1
    assert len(stored_files(_media_root)) == 1


def test_head_tells_whether_the_server_has_the_hash(kit):
    body = png_bytes()
    sha = hashlib.sha256(body).hexdigest()
    assert kit.client.head(f"/api/v1/media/{sha}", **kit.headers()).status_code == 404
    assert kit.put_media(body, "image/png").status_code == 201
    assert kit.client.head(f"/api/v1/media/{sha}", **kit.headers()).status_code == 200


def test_mp4_clip_records_fps_frames_and_duration(kit):
    body = mp4_bytes(frames=12, fps=10.0)
    response = kit.put_media(body, "video/mp4")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "clip"
    assert data["fps"] == pytest.approx(10.0)
    assert data["frame_count"] == 12
    assert data["duration_seconds"] == pytest.approx(1.2)


def test_media_is_refused_without_a_device_token(db, _media_root):
    body = jpeg_bytes()
    response = Client().put(f"/api/v1/media/{hashlib.sha256(body).hexdigest()}", data=body,
                            content_type="image/jpeg")
    assert_error(response, 401, "not_authenticated")
    assert_nothing_stored(_media_root)


@pytest.mark.parametrize("bad", ["abc", "A" * 64, "g" * 64, "../" * 21 + "a", "..%2F..%2Fetc%2Fpasswd",
                                 "a" * 63 + "/", "a" * 65])
def test_malformed_hash_is_400(kit, _media_root, bad):
    response = kit.client.put(f"/api/v1/media/{bad}", data=jpeg_bytes(), content_type="image/jpeg",
                              **kit.headers())
    assert_error(response, 400, "invalid_sha256")
    assert_nothing_stored(_media_root)


def test_head_with_malformed_hash_is_400(kit):
    assert kit.client.head("/api/v1/media/..%2F..%2Fetc", **kit.headers()).status_code == 400


def test_body_that_does_not_match_the_url_hash_is_409(kit, _media_root):
    response = kit.put_media(jpeg_bytes(seed=1), sha256=hashlib.sha256(b"something else").hexdigest())
    assert_error(response, 409, "hash_mismatch")
    assert_nothing_stored(_media_root)


def test_empty_body_is_400(kit, _media_root):
    response = kit.client.put(f"/api/v1/media/{hashlib.sha256(b'').hexdigest()}", data=b"",
                              CONTENT_TYPE="image/jpeg", **kit.headers())
    assert_error(response, 400, "empty_body")
    assert_nothing_stored(_media_root)


def test_upload_cut_off_mid_body_leaves_nothing_under_the_hash(kit, _media_root):
    body = jpeg_bytes()
    sha = hashlib.sha256(body).hexdigest()
    half = body[: len(body) // 2]
    # The connection drops after half the body: Content-Length promises more than arrives.
    response = kit.client.generic("PUT", f"/api/v1/media/{sha}", data=half, content_type="image/jpeg",
                                  CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(half)},
                                  **kit.headers())
    assert_error(response, 400, "incomplete_body")
    assert_nothing_stored(_media_root)
    assert kit.client.head(f"/api/v1/media/{sha}", **kit.headers()).status_code == 404


def test_declared_length_over_the_limit_is_413_before_reading(kit, _media_root, settings):
    settings.LOUPE_MAX_UPLOAD_BYTES = 1000

    class Exploding(io.BytesIO):
        def read(self, *args):  # the body must not be read at all
            raise AssertionError("body was read")

    body = jpeg_bytes()
    response = kit.client.generic("PUT", f"/api/v1/media/{hashlib.sha256(body).hexdigest()}", data=b"",
                                  CONTENT_TYPE="image/jpeg", CONTENT_LENGTH="5000000000",
                                  **{"wsgi.input": Exploding()}, **kit.headers())
    assert_error(response, 413, "body_too_large")
    assert_nothing_stored(_media_root)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width×height in its header with a tiny body: a decompression bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def test_png_claiming_50000_by_50000_pixels_is_refused_before_decoding(kit, _media_root):
    response = kit.put_media(_png_header_only(50_000, 50_000), "image/png")
    assert_error(response, 413, "too_many_pixels")
    assert response.json()["error"]["details"]["max_pixels"] > 0
    assert_nothing_stored(_media_root)


def test_jpeg_claiming_50000_by_50000_pixels_is_refused(kit, _media_root):
    body = bytearray(jpeg_bytes(64, 48))
    # Patch the SOF0 frame header's height and width to 50,000.
    sof = body.find(b"\xff\xc0")
    assert sof > 0
    body[sof + 5:sof + 9] = struct.pack(">HH", 50_000, 50_000)
    response = kit.put_media(bytes(body), "image/jpeg")
    assert_error(response, 413, "too_many_pixels")
    assert_nothing_stored(_media_root)


@pytest.mark.parametrize(("body_factory", "claimed", "code"), [
    (lambda: mp4_bytes(), "image/jpeg", "content_type_mismatch"),
    (lambda: b"hello, this is plain text and not an image at all", "image/jpeg", "unsupported_media_type"),
    (lambda: jpeg_bytes(), "video/mp4", "content_type_mismatch"),
    (lambda: jpeg_bytes(), "text/plain", "unsupported_media_type"),
    (lambda: jpeg_bytes(), "image/gif", "unsupported_media_type"),
])
def test_body_whose_real_type_is_not_the_claimed_one_is_415(kit, _media_root, body_factory, claimed, code):
    response = kit.put_media(body_factory(), claimed)
    assert_error(response, 415, code)
    assert_nothing_stored(_media_root)


def test_truncated_mp4_is_422(kit, _media_root):
    body = mp4_bytes(frames=20)
    response = kit.put_media(body[: len(body) * 2 // 3], "video/mp4")
    assert_error(response, 422, "corrupt_media")
    assert_nothing_stored(_media_root)


def test_corrupt_jpeg_is_422(kit, _media_root):
    body = jpeg_bytes()
    response = kit.put_media(body[:40] + b"\x00" * 200, "image/jpeg")
    assert_error(response, 422, "corrupt_media")
    assert_nothing_stored(_media_root)


def test_clip_over_the_duration_limit_is_413(kit, _media_root, settings):
    settings.LOUPE_MAX_CLIP_SECONDS = 1.0
    response = kit.put_media(mp4_bytes(frames=20, fps=10.0), "video/mp4")
    assert_error(response, 413, "clip_too_long")
    assert_nothing_stored(_media_root)


def test_clip_over_the_frame_limit_is_413(kit, _media_root, settings):
    settings.LOUPE_MAX_CLIP_FRAMES = 10
    response = kit.put_media(mp4_bytes(frames=20, fps=10.0), "video/mp4")
    assert_error(response, 413, "clip_too_long")
    assert_nothing_stored(_media_root)


def test_assets_are_shared_across_devices_but_stored_once(kit, _media_root):
    other = make_device_kit(project=kit.project, site="Harbour", camera="door-2")
    body = jpeg_bytes(seed=5)
    assert kit.put_media(body).status_code == 201
    assert other.put_media(body).status_code == 200
    assert Asset.objects.count() == 1


def test_mp4_header_followed_by_garbage_is_422(kit, _media_root):
    body = mp4_bytes()[:32] + bytes(range(256)) * 40
    response = kit.put_media(body, "video/mp4")
    assert_error(response, 422, "corrupt_media")
    assert_nothing_stored(_media_root)
