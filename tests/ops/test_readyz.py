"""/readyz: 200 while the database, Redis and media storage answer; 503 naming the part that does not, and 200
again when it is back. The outages are real: a Redis server and a forwarder to PostgreSQL are stopped and started."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from django.db import connection

from tests.ops.processes import Proxy, RedisServer
from tests.server import LiveServer, free_port


def ready(client: Any) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_ready_when_every_part_answers(client, db, settings):
    status, body = ready(client)
    assert status == 200
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["media"] == {"status": "ok"}
    expected_redis = {"status": "ok"} if settings.REDIS_URL else {"status": "skipped",
                                                                  "reason": "embedded mode: no Redis"}
    assert body["checks"]["redis"] == expected_redis


def test_embedded_mode_says_there_is_no_redis_and_is_ready(client, db, settings):
    settings.REDIS_URL = None
    status, body = ready(client)
    assert (status, body["checks"]["redis"]) == (200, {"status": "skipped", "reason": "embedded mode: no Redis"})


def test_media_that_cannot_take_a_file_is_named_then_ready_again(client, db, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder's parent should be")
    settings.MEDIA_ROOT = str(blocker / "media")  # root cannot bypass this, unlike a chmod
    status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["media"]
    assert body["checks"]["media"]["reason"].startswith("not writable")
    assert str(tmp_path) not in str(body)  # no path (nor any host or secret) in a public answer

    blocker.unlink()
    assert ready(client)[0] == 200


def test_redis_going_away_is_named_then_ready_again(client, db, settings, tmp_path):
    server = RedisServer(free_port(), tmp_path).start()
    try:
        settings.REDIS_URL = server.url
        assert ready(client)[0] == 200
        server.stop()
        status, body = ready(client)
        assert status == 503
        assert body["failing"] == ["redis"]
        assert body["checks"]["redis"]["reason"].startswith("unreachable")
        server.start()
        assert until_ready(lambda: ready(client)[0]) == 200
    finally:
        server.stop()


def test_a_hung_dependency_answers_within_the_timeout(client, db, settings, monkeypatch):
    from config import health

    release = threading.Event()
    monkeypatch.setitem(health.CHECKS, "media", lambda: (release.wait(30), health.Outcome(health.OK))[1])
    settings.LOUPE_READYZ_TIMEOUT_SECONDS = 0.3
    started = time.monotonic()
    try:
        status, body = ready(client)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert (status, body["failing"], body["checks"]["media"]["reason"]) == (503, ["media"], "no answer within 0.3 s")


@pytest.mark.django_db(transaction=True)
def test_postgres_going_away_is_named_then_ready_again(postgres, _media_root):
    s = connection.settings_dict
    proxy = Proxy(free_port(), s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)).start()
    url = f"postgres://{s['USER']}@127.0.0.1:{proxy.argv[3]}/{s['NAME']}"
    try:
        with LiveServer(_media_root, env={"DATABASE_URL": url}) as server:
            get = lambda: httpx.get(f"{server.url}/readyz", timeout=10)  # noqa: E731
            assert get().status_code == 200
            proxy.stop()
            response = get()
            assert response.status_code == 503
            assert response.json()["failing"] == ["database"]
            assert httpx.get(f"{server.url}/healthz").status_code == 200  # alive, only not ready
            proxy.start()
            assert until_ready(lambda: get().status_code) == 200
    finally:
        proxy.stop()


def until_ready(status: Any, attempts: int = 100) -> int:
    """A dependency that came back may cost a probe or two (a pooled connection found broken): bounded polls."""
    code = status()
    for _ in range(attempts):
        if code == 200:
            break
        time.sleep(0.1)
        code = status()
    return int(code)
