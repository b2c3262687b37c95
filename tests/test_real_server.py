"""Faults and pushes through the real stack: uvicorn + Django + PostgreSQL in a separate process, real sockets."""

from __future__ import annotations

import hashlib
import socket

import httpx
import pytest

from annotations.models import Asset, Prediction
from reviewer.models import ReviewItem
from tests.factories import jpeg_bytes, make_device_kit, prediction_event
from tests.server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_upload_cut_off_mid_body_stores_nothing(postgres, _media_root):
    kit = make_device_kit()
    body = jpeg_bytes(640, 480)
    sha = hashlib.sha256(body).hexdigest()
    with LiveServer(_media_root) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            head = (f"PUT /api/v1/media/{sha} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(body)}\r\nAuthorization: Bearer {kit.token}\r\n\r\n").encode()
            sock.sendall(head + body[: len(body) // 2])
            # The network drops: the client goes away with half the body sent.
        headers = {"Authorization": f"Bearer {kit.token}"}
        assert httpx.head(f"{server.url}/api/v1/media/{sha}", headers=headers).status_code == 404
        # The device retries the whole upload later and it is stored whole.
        response = httpx.put(f"{server.url}/api/v1/media/{sha}", content=body,
                             headers={**headers, "Content-Type": "image/jpeg"})
        assert response.status_code == 201
    assert Asset.objects.count() == 1
    assert [p for p in _media_root.rglob("*") if p.is_file()] == [_media_root / Asset.objects.get().file.name]


def test_declared_oversize_upload_is_refused_before_the_body_is_read(postgres, _media_root):
    kit = make_device_kit()
    sha = "a" * 64
    with LiveServer(_media_root) as server, socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall((f"PUT /api/v1/media/{sha} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                      f"Content-Length: 50000000000\r\nAuthorization: Bearer {kit.token}\r\n\r\n").encode())
        # Answered although none of the 50 GB was sent; the server closes the connection after the reply.
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
    assert reply.startswith("HTTP/1.1 413")
    assert '"code":"body_too_large"' in reply
    assert not any(p.is_file() for p in _media_root.rglob("*"))


def test_batch_resent_after_a_server_crash_is_stored_once(postgres, _media_root):
    kit = make_device_kit()
    body = jpeg_bytes()
    sha = hashlib.sha256(body).hexdigest()
    batch = {"events": [prediction_event(f"e{i}", sha, score=0.3 + i / 1000) for i in range(300)]}
    headers = {"Authorization": f"Bearer {kit.token}"}
    server = LiveServer(_media_root).start()
    try:
        httpx.put(f"{server.url}/api/v1/media/{sha}", content=body,
                  headers={**headers, "Content-Type": "image/jpeg"}).raise_for_status()
        first = httpx.post(f"{server.url}/api/v1/events", json=batch, headers=headers, timeout=30)
        assert [r["status"] for r in first.json()["results"]] == ["created"] * 300
        server.kill()  # the device never saw this answer (crash) and re-sends after the restart
        server = LiveServer(_media_root, port=server.port).start()
        again = httpx.post(f"{server.url}/api/v1/events", json=batch, headers=headers, timeout=30)
        assert [r["status"] for r in again.json()["results"]] == ["duplicate"] * 300
    finally:
        server.kill()
    assert Prediction.objects.count() == 300
    assert ReviewItem.objects.count() == sum("review_item" in r for r in first.json()["results"])


def test_claim_and_submit_through_the_server_push_to_a_project_socket(postgres, _media_root):
    """HTTP requests run on the server's thread pool (a2wsgi); their pushes reach WebSocket clients of the
    same server through its event loop and the channel layer (Redis in CI)."""
    import orjson
    from django.test import Client
    from rest_framework.authtoken.models import Token
    from websockets.sync.client import connect

    from tests.factories import add_member, make_items, make_project

    project = make_project("socket-push")
    project.qa_sample_rate = 0.0
    project.save()
    annotator = add_member(project, "alice", "annotator")
    watcher = add_member(project, "dana", "admin")
    item = make_items(project, 1)[0]
    browser = Client()
    browser.force_login(watcher)
    token = Token.objects.create(user=annotator).key
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    with (LiveServer(_media_root) as server,
          connect(f"ws://127.0.0.1:{server.port}/ws/projects/{project.pk}/",
                  additional_headers={"Cookie": cookie, "Origin": server.url}, open_timeout=10) as socket_):
        assert orjson.loads(socket_.recv(timeout=10))["type"] == "queue.stats"  # the snapshot on connect
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=10)
        claimed = api.post(f"/api/v1/projects/{project.pk}/queue/claim", json={})
        assert claimed.status_code == 200 and claimed.json()["id"] == item.pk
        submitted = api.post(f"/api/v1/items/{item.pk}/submit", json={
            "lease_token": claimed.json()["lease_token"],
            "boxes": [{"label": "person", "box": [10, 10, 20, 40]}]})
        assert submitted.status_code == 201
        seen: list[tuple[str, int | None]] = []
        while ("item.accepted", item.pk) not in seen:  # bounded by recv's timeout, no sleeps
            message = orjson.loads(socket_.recv(timeout=10))
            seen.append((message["type"], message.get("item")))
    assert seen.index(("item.leased", item.pk)) < seen.index(("item.accepted", item.pk))
    assert ReviewItem.objects.get(pk=item.pk).status == "accepted"
