"""Rate limits (issue 14, finding 3): a spoofed X-Forwarded-For buys no more tries, limits count per account as
well as per address, and the hot device and person endpoints answer 429 + Retry-After past their rate."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import uuid

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotations.throttling import client_address
from tests.factories import add_member, as_user, jpeg_bytes, make_device_kit, make_items, prediction_event
from tests.server import LiveServer

pytestmark = pytest.mark.django_db

BIG = "100000/min"
HEALTH = {"software_version": "1.4.2", "model_sha256": "a" * 64, "uptime_seconds": 3600,
          "disk_free_bytes": 10_000_000, "temperature_c": 61.5, "fps": 14.8, "dropped_frames": 12,
          "outbox_depth": 3}


@pytest.fixture
def rates(settings):
    """Set some scopes' rates for one test (the others keep their real defaults)."""
    def set_rates(**scopes: str) -> None:
        settings.LOUPE_RATE_LIMITS = {**getattr(settings, "LOUPE_RATE_LIMITS", {}), **scopes}
    return set_rates


def login(username: str, *, peer: str = "198.51.100.7", forwarded: str | None = None,
          password: str = "wrong"):  # noqa: S107  (a wrong guess, by design)
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post("/api/v1/auth/login", {"username": username, "password": password},
                         content_type="application/json", **extra)


def assert_rate_limited(response, window: int = 60) -> None:
    assert response.status_code == 429, response.content
    retry_after = response["Retry-After"]  # whole seconds until the window that refused this one ends
    assert retry_after.isdigit() and 1 <= int(retry_after) <= window
    if response.content:  # a HEAD answer has no body
        error = response.json()["error"]
        assert error["code"] == "rate_limited"
        assert error["details"] == {"retry_after": int(retry_after)}
        assert error["message"] == f"Too many requests. Try again in {retry_after} second" + (
            "" if retry_after == "1" else "s") + "."  # the login page shows it as it is


# --- the client's address -------------------------------------------------------------------------


def nets(*cidrs: str):
    return [ipaddress.ip_network(c) for c in cidrs]


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy():
    assert client_address("203.0.113.5", "1.2.3.4", nets()) == "203.0.113.5"
    assert client_address("203.0.113.5", "1.2.3.4", nets("10.0.0.0/8")) == "203.0.113.5"
    assert client_address("10.0.0.2", None, nets("10.0.0.0/8")) == "10.0.0.2"


def test_forwarded_for_is_walked_from_the_right_past_trusted_hops_only():
    proxies = nets("10.0.0.0/8", "2001:db8::/32")
    # The client wrote "1.2.3.4" itself; the first proxy appended the address it really came from.
    assert client_address("10.0.0.2", "1.2.3.4, 203.0.113.9", proxies) == "203.0.113.9"
    assert client_address("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.7", proxies) == "203.0.113.9"
    assert client_address("10.0.0.2", "203.0.113.9:5123, [2001:db8::1]:80", proxies) == "203.0.113.9"
    assert client_address("10.0.0.2", "::ffff:198.51.100.1", proxies) == "198.51.100.1"
    # A hop that is no address stops the walk at the last proxy we trust; all hops trusted: the leftmost.
    assert client_address("10.0.0.2", "1.2.3.4, not-an-ip", proxies) == "10.0.0.2"
    assert client_address("10.0.0.2", "10.0.0.9, 10.0.0.8", proxies) == "10.0.0.9"


# --- login and password reset ---------------------------------------------------------------------


def test_login_limit_holds_with_rotating_spoofed_forwarded_for(rates):
    rates(login_address="3/min", login_account=BIG)
    for i in range(3):
        assert login(f"guess-{i}", forwarded=f"203.0.113.{i}").status_code == 401
    # A new X-Forwarded-For from the same (untrusted) peer does not reset its count.
    assert_rate_limited(login("guess-3", forwarded="203.0.113.99"))
    assert login("guess-4", peer="198.51.100.8").status_code == 401  # another client is not affected


def test_with_a_trusted_proxy_the_forwarded_address_is_counted(rates, settings):
    rates(login_address="3/min", login_account=BIG)
    settings.LOUPE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    # Clients behind the proxy each have their own count...
    for i in range(5):
        assert login(f"user-{i}", peer="10.0.0.2", forwarded=f"203.0.113.{i}").status_code == 401
    # ...and one client cannot reset its own by prepending addresses of its choosing.
    for i in range(3):
        assert login(f"other-{i}", peer="10.0.0.2", forwarded=f"192.0.2.{i}, 203.0.113.50").status_code == 401
    assert_rate_limited(login("other-3", peer="10.0.0.3", forwarded="192.0.2.77, 203.0.113.50"))


def test_login_account_limit_holds_across_addresses(rates):
    rates(login_address=BIG, login_account="3/min")
    User.objects.create_user("alice", password="the-right-one-123")
    for i in range(3):
        assert login("alice", peer=f"198.51.100.{i}").status_code == 401
    # The same account from a fourth address, however the name is spelled, even with the right password.
    assert_rate_limited(login(" ALICE ", peer="198.51.100.200"))
    assert_rate_limited(login("alice", peer="198.51.100.201", password="the-right-one-123"))
    User.objects.create_user("bob", password="bobs-password-123")
    assert login("bob", peer="198.51.100.0", password="bobs-password-123").status_code == 200


def test_password_reset_is_limited_per_address_and_per_account(rates, mailoutbox):
    rates(password_reset_address="3/hour", password_reset_account="2/hour")
    User.objects.create_user("carol", email="carol@example.com", password="carols-password-123")

    def reset(email: str, peer: str, forwarded: str | None = None):
        extra = {"REMOTE_ADDR": peer, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})}
        return Client().post("/api/v1/auth/password-reset", {"email": email}, content_type="application/json",
                             **extra)

    assert reset("carol@example.com", "198.51.100.1").status_code == 202
    assert reset("Carol@Example.COM", "198.51.100.2").status_code == 202
    assert_rate_limited(reset("carol@example.com", "198.51.100.3"), window=3600)
    assert len(mailoutbox) == 2  # no third email to carol
    # Per address, whatever the header says: three addresses of strangers, then refused.
    assert reset("x1@example.com", "198.51.100.9", "203.0.113.1").status_code == 202
    assert reset("x2@example.com", "198.51.100.9", "203.0.113.2").status_code == 202
    assert reset("x3@example.com", "198.51.100.9", "203.0.113.3").status_code == 202
    assert_rate_limited(reset("x4@example.com", "198.51.100.9", "203.0.113.4"), window=3600)


def test_password_set_is_limited_per_link_account(rates):
    rates(password_set_address=BIG, password_set_account="2/min")
    user = User.objects.create_user("dora", email="dora@example.com")
    uid = urlsafe_base64_encode(force_bytes(user.pk))

    def guess(token: str, peer: str):
        return Client().post("/api/v1/auth/password-set", {"uid": uid, "token": token, "new_password": "N3w-pass!x"},
                             content_type="application/json", REMOTE_ADDR=peer)

    assert guess("aaa-bbb", "198.51.100.1").status_code == 400
    assert guess("aaa-ccc", "198.51.100.2").status_code == 400
    assert_rate_limited(guess("aaa-ddd", "198.51.100.3"))


# --- devices ----------------------------------------------------------------------------------------


def test_device_events_past_the_rate_get_429_and_another_device_is_unaffected(rates, kit):
    rates(device_events="2/min")
    body = jpeg_bytes()
    sha = hashlib.sha256(body).hexdigest()
    assert kit.put_media(body).status_code == 201
    assert kit.post_events([prediction_event("e1", sha)]).status_code == 200
    assert kit.post_events([prediction_event("e2", sha)]).status_code == 200
    assert_rate_limited(kit.post_events([prediction_event("e3", sha)]))
    other = make_device_kit(project=kit.project, site="Elm St", camera="door-2")
    assert other.put_media(body).status_code in (200, 201)
    assert other.post_events([prediction_event("e3", sha, camera="door-2")]).status_code == 200


def test_device_media_head_and_put_share_one_rate(rates, kit):
    rates(device_media="3/min")
    body = jpeg_bytes(seed=7)
    sha = hashlib.sha256(body).hexdigest()
    head = kit.client.head(f"/api/v1/media/{sha}", **kit.headers())
    assert head.status_code == 404
    assert kit.put_media(body).status_code == 201
    assert kit.client.head(f"/api/v1/media/{sha}", **kit.headers()).status_code == 200
    assert_rate_limited(kit.client.head(f"/api/v1/media/{sha}", **kit.headers()))
    assert_rate_limited(kit.put_media(jpeg_bytes(seed=8)))
    other = make_device_kit(project=kit.project, site="Elm St", camera="door-2")
    assert other.put_media(jpeg_bytes(seed=8)).status_code == 201


def test_device_heartbeat_past_the_rate_gets_429(rates, kit):
    rates(device_heartbeat="1/min")
    def beat(k, camera: str):
        health = {**HEALTH, "cameras": [{"name": camera, "status": "ok", "fps": 14.8}]}
        return k.client.post("/api/v1/heartbeat", data=health, content_type="application/json", **k.headers())

    assert beat(kit, "door-1").status_code == 200
    assert_rate_limited(beat(kit, "door-1"))
    other = make_device_kit(project=kit.project, site="Elm St", camera="door-2")
    assert beat(other, "door-2").status_code == 200


# --- people -----------------------------------------------------------------------------------------


def test_claim_past_the_rate_gets_429_and_another_person_is_unaffected(rates, kit):
    rates(claim="2/min")
    make_items(kit.project, 4)
    add_member(kit.project, "ana", "annotator")
    add_member(kit.project, "ben", "annotator")
    url = f"/api/v1/projects/{kit.project.pk}/queue/claim"
    ana = as_user("ana")
    assert ana.post(url, {}, format="json").status_code == 200
    assert ana.post(url, {"prefetch": True}, format="json").status_code == 200
    assert_rate_limited(ana.post(url, {}, format="json"))
    assert as_user("ben").post(url, {}, format="json").status_code == 200


def test_media_reads_past_the_rate_get_429_and_another_person_is_unaffected(rates, kit):
    rates(media_read="3/min")
    body = jpeg_bytes(seed=3)
    sha = hashlib.sha256(body).hexdigest()
    assert kit.put_media(body).status_code == 201
    assert kit.post_events([prediction_event("e1", sha)]).status_code == 200
    add_member(kit.project, "ana", "admin")
    add_member(kit.project, "ben", "admin")
    ana = as_user("ana")
    assert ana.get(f"/api/v1/assets/{sha}").status_code == 200
    assert ana.get(f"/api/v1/assets/{sha}/thumb.jpg").status_code == 200
    assert ana.get(f"/api/v1/assets/{sha}/frames/0.jpg").status_code == 200
    assert_rate_limited(ana.get(f"/api/v1/assets/{sha}"))
    assert as_user("ben").get(f"/api/v1/assets/{sha}").status_code == 200


# --- the cache that holds the counts ----------------------------------------------------------------


def test_a_failing_cache_lets_requests_through_with_a_log_line(rates, settings, caplog):
    rates(login_address="1/min", login_account="1/min")
    # A real Redis client against a port nothing listens on: every cache call fails to connect.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}}}
    User.objects.create_user("erin", password="erins-password-123")
    with caplog.at_level(logging.WARNING, logger="annotations.throttling"):
        assert login("erin").status_code == 401
        assert login("erin").status_code == 401
        assert login("erin", password="erins-password-123").status_code == 200
    assert any("rate limit login_address not checked" in r.getMessage() for r in caplog.records)


# --- through the real server ------------------------------------------------------------------------


def real_logins(server: LiveServer, count: int) -> list[httpx.Response]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        return [http.post("/api/v1/auth/login", json={"username": f"nobody-{i}", "password": "x"},
                          headers={"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(count)]


@pytest.mark.django_db(transaction=True)
def test_uvicorn_does_not_take_the_client_address_from_a_spoofed_header(postgres, _media_root):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise; started as `make run` starts it, a
    client on loopback rotating the header is still one address."""
    env = {"LOUPE_RATE_LOGIN_ADDRESS": "3/min", "LOUPE_RATE_LOGIN_ACCOUNT": BIG, "LOUPE_TRUSTED_PROXIES": ""}
    with LiveServer(_media_root, env=env) as server:
        responses = real_logins(server, 4)
    assert [r.status_code for r in responses] == [401, 401, 401, 429]
    assert int(responses[-1].headers["Retry-After"]) >= 1
    assert responses[-1].json()["error"]["code"] == "rate_limited"


@pytest.mark.django_db(transaction=True)
def test_real_server_behind_a_trusted_proxy_counts_the_forwarded_address(postgres, _media_root):
    env = {"LOUPE_RATE_LOGIN_ADDRESS": "3/min", "LOUPE_RATE_LOGIN_ACCOUNT": BIG, "LOUPE_TRUSTED_PROXIES": "127.0.0.1"}
    with LiveServer(_media_root, env=env) as server:
        responses = real_logins(server, 5)
    assert [r.status_code for r in responses] == [401] * 5


@pytest.mark.django_db(transaction=True)
def test_two_server_processes_share_one_count_in_redis(postgres, _media_root, tmp_path, settings):
    """Replicas behind a load balancer: a client gets the rate once, not once per process."""
    if not settings.REDIS_URL:
        if settings.REQUIRE_POSTGRES or os.environ.get("CI"):
            pytest.fail("this test needs Redis (REDIS_URL) and REQUIRE_POSTGRES/CI is set")
        pytest.skip("needs Redis: set REDIS_URL=redis://... (CI always does)")
    env = {"LOUPE_RATE_LOGIN_ADDRESS": "3/min", "LOUPE_RATE_LOGIN_ACCOUNT": BIG,
           "LOUPE_CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    with LiveServer(_media_root, env=env) as first, LiveServer(tmp_path / "media-2", env=env) as second:
        statuses = [r.status_code for server in (first, second, first) for r in real_logins(server, 1)]
        statuses += [r.status_code for r in real_logins(second, 1)]
    assert statuses == [401, 401, 401, 429]
