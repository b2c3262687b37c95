"""The browser app is served by Django: one shell for / and /app/..., a CSP, the CSRF cookie, and a clear
page (not a crash) when the app has not been built."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SHELL = b'<!doctype html><html><head><script type="module" src="/static/app/assets/index-abc12345.js"></script>' \
        b'</head><body><div id="app"></div></body></html>'


@pytest.fixture
def built_app(tmp_path, settings):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(SHELL)
    settings.LOUPE_FRONTEND_DIST = dist
    return dist


def csp_directives(response) -> dict[str, list[str]]:
    directives = [d.strip().split() for d in response["Content-Security-Policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


@pytest.mark.parametrize("path", ["/", "/app", "/app/", "/app/projects/3/queue", "/app/items/42?tab=history"])
def test_root_and_client_routes_serve_the_shell_with_a_csrf_cookie(built_app, path):
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content == SHELL
    assert response.cookies["csrftoken"].value
    assert response["Cache-Control"] == "no-cache"


def test_shell_has_a_strict_content_security_policy(built_app):
    csp = csp_directives(Client().get("/", HTTP_HOST="localhost"))
    assert csp["script-src"] == ["'self'"]  # no inline scripts, no eval, no CDN
    assert csp["default-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'", "ws://localhost", "wss://localhost"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]


def test_without_a_build_the_front_door_says_how_to_build_it(tmp_path, settings):
    settings.LOUPE_FRONTEND_DIST = tmp_path / "missing"
    response = Client().get("/")
    assert response.status_code == 503
    assert b"make frontend" in response.content
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_shell_only_answers_reads(built_app):
    assert Client().post("/app/queue").status_code == 405


def test_admin_api_and_health_are_not_swallowed_by_the_app(built_app):
    client = Client()
    assert client.get("/admin/").status_code == 302  # to the admin login
    assert client.get("/healthz").json() == {"status": "ok"}
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/apple").status_code == 404
