"""The ASGI body limit refuses oversize requests before Django spools them (config/limits.py)."""

from __future__ import annotations

import pytest
from asgiref.testing import ApplicationCommunicator

from config.limits import BodySizeLimitMiddleware


class Downstream:
    """Stands for Django: records whether it ran and reads the body as Django's ASGI handler does."""

    def __init__(self) -> None:
        self.called = False
        self.received = 0

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            self.received += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(path: str, length: int | None) -> dict:
    headers = [(b"content-type", b"image/jpeg")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": "PUT", "path": path, "headers": headers, "query_string": b""}


@pytest.mark.asyncio
async def test_declared_length_over_the_limit_is_413_without_calling_the_app(settings):
    settings.LOUPE_MAX_UPLOAD_BYTES = 1000
    app = Downstream()
    comm = ApplicationCommunicator(BodySizeLimitMiddleware(app), scope("/api/v1/media/" + "a" * 64, 10**12))
    start = await comm.receive_output(timeout=5)
    assert start["status"] == 413
    body = await comm.receive_output(timeout=5)
    assert b'"body_too_large"' in body["body"]
    assert not app.called


@pytest.mark.asyncio
async def test_chunked_body_is_stopped_as_soon_as_it_passes_the_limit(settings):
    settings.LOUPE_MAX_REQUEST_BYTES = 10_000
    app = Downstream()
    comm = ApplicationCommunicator(BodySizeLimitMiddleware(app), scope("/api/v1/events", None))
    for _ in range(3):
        await comm.send_input({"type": "http.request", "body": b"x" * 4096, "more_body": True})
    start = await comm.receive_output(timeout=5)
    assert start["status"] == 413
    assert app.received <= 10_000


@pytest.mark.asyncio
async def test_body_within_the_limit_passes_through(settings):
    settings.LOUPE_MAX_REQUEST_BYTES = 10_000
    app = Downstream()
    comm = ApplicationCommunicator(BodySizeLimitMiddleware(app), scope("/api/v1/events", 5000))
    await comm.send_input({"type": "http.request", "body": b"x" * 5000, "more_body": False})
    start = await comm.receive_output(timeout=5)
    assert start["status"] == 200
    assert app.received == 5000
