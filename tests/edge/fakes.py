"""A fake Loupe device API (httpx.MockTransport) for the edge client's unit tests: no sockets, no sleeps."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from loupe_wire import ASSET_MISSING, CREATED, DUPLICATE, ID_CONFLICT, REJECTED, same_payload


@dataclass
class FakeServer:
    """Stores media and events as the real server does (idempotent by id); `faults` script failures."""

    media: dict[str, bytes] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → the event first stored
    calls: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Callable[[httpx.Request], httpx.Response | None]] = field(default_factory=list)
    forget_media_once: set[str] = field(default_factory=set)  # answer asset_missing once for these
    down: Callable[[], bool] = lambda: False  # while true, every request (probes too) fails to connect

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if self.down():
            raise httpx.ConnectError("the link is down", request=request)
        for fault in list(self.faults):
            response = fault(request)
            if response is not None:
                return response
        path = request.url.path
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/api/v1/heartbeat":
            return httpx.Response(200, json={"model": None, "server_time": "2026-12-01T10:00:00Z"})
        if path.startswith("/api/v1/media/"):
            sha = path.rsplit("/", 1)[1]
            if request.method == "HEAD":
                return httpx.Response(200 if sha in self.media else 404)
            body = request.read()
            if hashlib.sha256(body).hexdigest() != sha:
                return httpx.Response(409, json={"error": {"code": "hash_mismatch", "message": "no match"}})
            created = sha not in self.media
            self.media[sha] = body
            return httpx.Response(201 if created else 200, json={"sha256": sha})
        if path == "/api/v1/events":
            return httpx.Response(200, json={"results": [self._ingest(e) for e in json.loads(request.read())["events"]]})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "Not found."}})

    def _ingest(self, event: dict[str, Any]) -> dict[str, Any]:
        asset = event.get("asset")
        if asset and (asset not in self.media or asset in self.forget_media_once):
            self.forget_media_once.discard(asset)
            self.media.pop(asset, None)
            return {"id": event["id"], "status": REJECTED, "error": {"code": ASSET_MISSING, "message": "upload it"}}
        if event.get("detections") == "bad":
            return {"id": event["id"], "status": REJECTED, "error": {"code": "invalid_box", "message": "box"}}
        if event["id"] in self.events:
            same = same_payload(self.events[event["id"]], event)  # the server's rule, as the real one applies it
            return {"id": event["id"], "status": DUPLICATE} if same else {
                "id": event["id"], "status": REJECTED, "error": {"code": ID_CONFLICT, "message": "differs"}}
        self.events[event["id"]] = event
        return {"id": event["id"], "status": CREATED}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url="http://loupe.test", transport=httpx.MockTransport(self.handler))


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def event(i: int | str, asset: str | None = None, **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"id": f"ev-{i}", "type": "prediction", "captured_at": "2026-12-01T10:00:00.000Z",
                         "camera": "door-1", "frame_index": 0, "detections": [], **extra}
    if asset is not None:
        e["asset"] = asset
    return e
