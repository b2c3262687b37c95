"""ASGI middleware bounding request bodies before Django reads them.

Django's ASGI handler spools the whole body to a temporary file before any view runs, so a view-level
check would come after a multi-gigabyte upload had been written to disk. This refuses a declared
Content-Length over the limit at once, and stops a chunked body the moment it passes the limit.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from django.conf import settings

Scope = dict[str, Any]
Message = Any
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# Model files arrive by upload, and from an external training pipeline's callback.
_MODEL_UPLOAD = re.compile(r"^/api/v1/(projects/[0-9]+/models/|training-runs/[0-9]+/callback)$")
_IMPORT = re.compile(r"^/api/v1/projects/[0-9]+/imports$")


def body_limit_for(path: str) -> int:
    """The most bytes a request to `path` may carry."""
    if path.startswith("/api/v1/media/"):
        return int(settings.LOUPE_MAX_UPLOAD_BYTES)
    if _MODEL_UPLOAD.match(path):
        return int(settings.LOUPE_MAX_MODEL_BYTES) + int(settings.LOUPE_MULTIPART_SLACK)
    if _IMPORT.match(path):
        return int(settings.LOUPE_MAX_IMPORT_BYTES)
    return int(settings.LOUPE_MAX_REQUEST_BYTES)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, limit: int) -> None:
    body = orjson.dumps({"error": {"code": "body_too_large",
                                   "message": f"The request body exceeds the limit of {limit} bytes.",
                                   "details": {"max_bytes": limit}}})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send, limit)
            return
        received = 0
        refused = False

        async def bounded_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    # Answer now and tell the app the client went away: whatever it does next (Django's ASGI
                    # handler stops reading; a WSGI view under a2wsgi fails its read) is not sent.
                    refused = True
                    await _send_413(send, limit)
            return {"type": "http.disconnect"} if refused else message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, bounded_receive, guarded_send)
