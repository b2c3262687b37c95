"""Hostile bodies on the main JSON endpoints: too large, nested past any sane depth, not UTF-8, or not JSON
at all. Each is refused with the API's error shape and a 4xx, never a 500 (or a RecursionError)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token

from activelearning.webhooks.models import Webhook
from annotations.models import Role
from config.limits import BodySizeLimitMiddleware, body_limit_for
from reviewer.models import ReviewItem
from tests.factories import add_member, make_device_kit, make_items


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # with {project}, {item}, {qa_item}, {webhook}
    who: str  # "device" or a role


ENDPOINTS = [
    Endpoint("events", "POST", "/api/v1/events", "device"),
    Endpoint("heartbeat", "POST", "/api/v1/heartbeat", "device"),
    Endpoint("claim", "POST", "/api/v1/projects/{project}/queue/claim", Role.ANNOTATOR),
    Endpoint("submit", "POST", "/api/v1/items/{item}/submit", Role.ANNOTATOR),
    Endpoint("skip", "POST", "/api/v1/items/{item}/skip", Role.ANNOTATOR),
    Endpoint("review", "POST", "/api/v1/items/{qa_item}/review", Role.REVIEWER),
    Endpoint("routing-policy", "PUT", "/api/v1/projects/{project}/routing-policy", Role.ADMIN),
    Endpoint("routing-preview", "POST", "/api/v1/projects/{project}/routing-policy/preview", Role.ADMIN),
    Endpoint("webhook-create", "POST", "/api/v1/projects/{project}/webhooks/", Role.ADMIN),
    Endpoint("webhook-edit", "PATCH", "/api/v1/webhooks/{webhook}", Role.ADMIN),
    Endpoint("imports", "POST", "/api/v1/projects/{project}/imports", Role.ADMIN),
    Endpoint("review-settings", "PUT", "/api/v1/projects/{project}/review-settings", Role.ADMIN),
    Endpoint("login", "POST", "/api/v1/auth/login", "anyone"),
]


@dataclass
class Setup:
    values: dict[str, int]
    auth: dict[str, str]


@pytest.fixture
def setup(db: None) -> Setup:
    cache.clear()  # the login rate limit counts this module's many refused logins
    kit = make_device_kit()
    project = kit.project
    auth = {"device": f"Bearer {kit.token}", "anyone": ""}
    for role in (Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER):
        user = add_member(project, f"u-{role}", role)
        auth[role] = f"Token {Token.objects.create(user=user).key}"
    item, qa_item = make_items(project, 2)
    client = Client()
    # The annotator holds a lease on `item` (so submit and skip read their body) and `qa_item` waits in QA.
    claimed = client.post(f"/api/v1/projects/{project.pk}/queue/claim", data={}, content_type="application/json",
                          HTTP_AUTHORIZATION=auth[Role.ANNOTATOR])
    assert claimed.status_code == 200, claimed.content
    leased = claimed.json()["id"]
    other = qa_item.pk if leased == item.pk else item.pk
    ReviewItem.objects.filter(pk=other).update(status="qa")
    webhook = Webhook.objects.create(project=project, url="https://hooks.example.com/in", secret="s" * 32,
                                     events=["item.accepted"])
    return Setup(values={"project": project.pk, "item": leased, "qa_item": other, "webhook": webhook.pk},
                 auth=auth)


def send(setup: Setup, endpoint: Endpoint, body: bytes, content_type: str = "application/json") -> Any:
    path = endpoint.path.format(**setup.values)
    extra = {"HTTP_AUTHORIZATION": setup.auth[endpoint.who]} if setup.auth[endpoint.who] else {}
    return Client().generic(endpoint.method, path, data=body, content_type=content_type, **extra)


def assert_refused(response: Any, statuses: tuple[int, ...]) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] and error["message"]
    return error


IDS = [e.name for e in ENDPOINTS]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_deeply_nested_json_is_400_not_a_recursion_error(setup: Setup, endpoint: Endpoint) -> None:
    for depth in (100_000, 5_000):
        body = b"[" * depth + b"]" * depth
        assert_refused(send(setup, endpoint, body), (400,))
        nested_object = b'{"a":' * depth + b"1" + b"}" * depth
        assert_refused(send(setup, endpoint, nested_object), (400,))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_body_that_is_not_utf8_is_400(setup: Setup, endpoint: Endpoint) -> None:
    # (Invalid UTF-8 inside a string a decoder skips, such as an unknown field, is never stored: not tested.)
    for body in (b"\xff\xfe{\x00}\x00", b'"\xff\xfe"', b"\xfe\xff\x00{\x00}", b"{\xff: 1}"):
        assert_refused(send(setup, endpoint, body), (400,))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_json_endpoints_refuse_other_content_types(setup: Setup, endpoint: Endpoint) -> None:
    # A body these endpoints would take as JSON (every field optional, or an empty batch), under another
    # type. (Form and multipart posts parse on DRF's endpoints, as DRF's defaults do; CSRF guards a browser
    # session's.)
    body = b'{"events": []}' if endpoint.name == "events" else b"{}"
    for content_type in ("text/plain", "application/xml", "text/html", "application/octet-stream"):
        assert_refused(send(setup, endpoint, body, content_type), (400, 415))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_json_that_is_not_an_object_is_400(setup: Setup, endpoint: Endpoint) -> None:
    # (An empty body is "no fields" where every field is optional; an import may be a list of tasks.)
    bodies = [b"null", b'"x"', b"1", b"{", b'{"a": NaN', b"\x00", b"[1, 2", b"{}{}"]
    if endpoint.name != "imports":
        bodies.append(b"[]")
    for body in bodies:
        assert_refused(send(setup, endpoint, body), (400,))


# --- Size: refused at the ASGI edge, before the body is read -------------------------------------------------


async def _asgi_post(path: str, chunks: list[bytes], declared: int | None) -> tuple[dict[str, Any], bytes, int]:
    """POST `chunks` to the real ASGI application; returns the response start, body, and chunks consumed."""
    from config.asgi import application

    headers = [(b"content-type", b"application/json"), (b"authorization", b"Token nobody")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": headers, "http_version": "1.1", "scheme": "http", "server": ("testserver", 80),
             "client": ("127.0.0.1", 5000), "asgi": {"version": "3.0"}}
    communicator = ApplicationCommunicator(application, scope)
    for i, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    consumed = len(chunks) - communicator.input_queue.qsize()
    await communicator.wait(timeout=10)
    return start, body["body"], consumed


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
@pytest.mark.asyncio
async def test_a_declared_length_past_the_limit_is_413_before_any_byte_is_read(endpoint: Endpoint,
                                                                               settings: Any) -> None:
    settings.LOUPE_MAX_REQUEST_BYTES = settings.LOUPE_MAX_IMPORT_BYTES = 50_000
    path = endpoint.path.format(project=1, item=1, qa_item=1, webhook=1)
    limit = body_limit_for(path)
    assert limit == 50_000
    start, body, consumed = await _asgi_post(path, [b"[" * 1000] * 60, declared=limit + 1)
    assert start["status"] == 413
    assert body.startswith(b'{"error":{"code":"body_too_large"')
    assert consumed == 0  # not one chunk of the 60 was taken from the client


class ReadsEverything:
    """Stands for Django behind the limit: reads the whole body, as a view reading `request.body` does."""

    def __init__(self) -> None:
        self.received = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            self.received += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
@pytest.mark.asyncio
async def test_an_undeclared_body_past_the_limit_is_413_and_not_read_to_its_end(endpoint: Endpoint,
                                                                                settings: Any) -> None:
    settings.LOUPE_MAX_REQUEST_BYTES = settings.LOUPE_MAX_IMPORT_BYTES = 50_000
    path = endpoint.path.format(project=1, item=1, qa_item=1, webhook=1)
    app = ReadsEverything()
    scope = {"type": "http", "method": endpoint.method, "path": path, "query_string": b"",
             "headers": [(b"content-type", b"application/json")]}
    communicator = ApplicationCommunicator(BodySizeLimitMiddleware(app), scope)
    for _ in range(60):  # 600 kB, chunked (no Content-Length)
        await communicator.send_input({"type": "http.request", "body": b"[" * 10_000, "more_body": True})
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    assert start["status"] == 413
    assert b'"body_too_large"' in body["body"]
    assert app.received <= 50_000  # the app saw at most the limit, then a disconnect


def test_a_deeply_nested_event_inside_a_valid_batch_is_refused_alone_or_with_the_batch(setup: Setup) -> None:
    events = next(e for e in ENDPOINTS if e.name == "events")
    deep = b"[" * 100_000 + b"]" * 100_000
    response = send(setup, events, b'{"events": [' + deep + b', {"a": ' + deep + b"}]}")
    if response.status_code == 200:
        assert [r["status"] for r in response.json()["results"]] == ["rejected", "rejected"]
    else:
        assert_refused(response, (400,))
