"""Model updates: ETag checks, Range resume after an interruption, and a corrupt download never activated."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from edge.client import TransientError
from edge.models import ModelCorrupt, ModelStore

MODEL = bytes(range(256)) * 400  # 100 KiB
SHA = hashlib.sha256(MODEL).hexdigest()


class ModelServer:
    """Serves one model file with ETag and Range; `cut_after` breaks the next body after that many bytes."""

    def __init__(self, data: bytes = MODEL, sha: str = SHA) -> None:
        self.data, self.sha = data, sha
        self.cut_after: int | None = None
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/v1/models/current":
            if request.headers.get("If-None-Match") == f'"{self.sha}"':
                return httpx.Response(304)
            return httpx.Response(200, headers={"ETag": f'"{self.sha}"'}, json={
                "id": 1, "sha256": self.sha, "size_bytes": len(self.data), "url": "/api/v1/models/1/file"})
        start = 0
        if "Range" in request.headers:
            start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
        body = self.data[start:]
        if self.cut_after is not None:
            cut, self.cut_after = self.cut_after, None

            def broken():
                yield body[:cut]
                raise httpx.ReadError("connection reset")

            return httpx.Response(200, content=broken())
        return httpx.Response(206 if start else 200, content=body)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url="http://loupe.test", transport=httpx.MockTransport(self.handler))


def test_a_new_champion_is_downloaded_verified_and_swapped_in(tmp_path):
    store, server = ModelStore(tmp_path), ModelServer()
    assert store.active_sha256 is None
    result = store.check_for_update(server.client())
    assert result.status == "updated" and store.active_sha256 == SHA
    assert store.active_link.is_symlink() and store.active_link.read_bytes() == MODEL
    assert store.check_for_update(server.client()).status == "unchanged"
    assert server.requests[-1].headers["If-None-Match"] == f'"{SHA}"'


def test_an_interrupted_download_resumes_with_range(tmp_path):
    store, server = ModelStore(tmp_path), ModelServer()
    server.cut_after = 40_000
    with pytest.raises(TransientError, match="interrupted"):
        store.check_for_update(server.client())
    assert store.active_sha256 is None
    assert (store.downloads / f"{SHA}.part").stat().st_size == 40_000
    assert store.check_for_update(server.client()).status == "updated"
    resumed = server.requests[-1]
    assert resumed.headers["Range"] == "bytes=40000-" and resumed.headers["If-Range"] == f'"{SHA}"'
    assert store.active_link.read_bytes() == MODEL


def test_a_corrupt_download_is_discarded_and_the_old_model_stays_active(tmp_path):
    store = ModelStore(tmp_path)
    store.check_for_update(ModelServer().client())
    other = b"a newer model" * 1000
    tampered = ModelServer(data=other[:-1] + b"X", sha=hashlib.sha256(other).hexdigest())
    with pytest.raises(ModelCorrupt):
        store.check_for_update(tampered.client())
    assert store.active_sha256 == SHA and store.active_link.read_bytes() == MODEL
    assert list(store.downloads.iterdir()) == []  # the next try starts over
    assert not (tmp_path / f"{tampered.sha}.onnx").exists()
