"""Finding 7 of issue 14 (configuration): production settings pass Django's deployment check, serve HTTPS
only (HSTS, secure cookies, plain HTTP redirected) and keep the API schema and Swagger page to signed-in users.
Each runs in a real child process started with production's environment, as the server would be."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.security.settings_process import run_django

HOST = "loupe.example.com"


def production_env(**extra: str) -> dict[str, str]:
    """A realistic production environment: PostgreSQL and Redis as in CI, a strong key, the public host."""
    key = base64.urlsafe_b64encode(hashlib.sha512(b"production settings test").digest()).decode()
    env = {"LOUPE_PRODUCTION": "true", "LOUPE_SECRET_KEY": key, "LOUPE_ALLOWED_HOSTS": HOST,
           "LOUPE_CSRF_TRUSTED_ORIGINS": f"https://{HOST}", "LOUPE_PUBLIC_URL": f"https://{HOST}"}
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return {**env, **extra}


@pytest.mark.parametrize("extra", [{}, {"LOUPE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}],
                         ids=["direct", "behind-tls-proxy"])
def test_check_deploy_passes_on_production_settings(tmp_path: Path, extra: dict[str, str]) -> None:
    result = run_django(tmp_path, production_env(**extra), argv=["check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "no issues" in result.stdout


# Requests through Django's test client inside the production process; anonymous, so no database is touched.
PROBE = """
import json, os, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST=os.environ["LOUPE_ALLOWED_HOSTS"].split(",")[0])
answers = {}
for name, path, secure, headers in [
        ("schema_http", "/api/v1/schema/", False, {}),
        ("healthz_http", "/healthz", False, {}),
        ("schema", "/api/v1/schema/", True, {}),
        ("docs", "/api/docs/", True, {}),
        ("forwarded", "/api/v1/schema/", False, {"HTTP_X_FORWARDED_PROTO": "https"})]:
    response = client.get(path, secure=secure, **headers)
    body = response.json() if response.get("Content-Type", "").startswith("application/json") else None
    answers[name] = {"status": response.status_code, "location": response.get("Location"),
                     "hsts": response.get("Strict-Transport-Security"), "body": body}
answers["settings"] = {name: getattr(settings, name) for name in (
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "LOUPE_PUBLIC_API_DOCS")}
print(json.dumps(answers))
"""


def probe(tmp_path: Path, env: dict[str, str]) -> dict:
    result = run_django(tmp_path, env, script=PROBE)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_serves_https_only_and_keeps_the_api_docs_to_signed_in_users(tmp_path: Path) -> None:
    answers = probe(tmp_path, production_env())
    assert answers["settings"] == {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
                                   "SECURE_SSL_REDIRECT": True, "LOUPE_PUBLIC_API_DOCS": False}
    assert answers["schema_http"]["status"] == 301
    assert answers["schema_http"]["location"] == f"https://{HOST}/api/v1/schema/"
    assert answers["healthz_http"]["status"] == 200  # a load balancer's plain-HTTP probe is not redirected
    # Without a trusted proxy header configured, a client's X-Forwarded-Proto does not count as HTTPS.
    assert answers["forwarded"]["status"] == 301
    schema = answers["schema"]
    assert schema["hsts"] == "max-age=31536000; includeSubDomains"
    assert schema["status"] == 401 and schema["body"]["error"]["code"] == "not_authenticated"
    assert answers["docs"]["status"] == 302 and answers["docs"]["location"] == "/#/login"


def test_behind_a_tls_proxy_its_header_marks_https_and_the_docs_can_be_made_public(tmp_path: Path) -> None:
    answers = probe(tmp_path, production_env(LOUPE_PROXY_SSL_HEADER="X-Forwarded-Proto",
                                             LOUPE_PUBLIC_API_DOCS="true", LOUPE_HSTS_SECONDS="600",
                                             LOUPE_HSTS_INCLUDE_SUBDOMAINS="false"))
    assert answers["forwarded"]["status"] == 200 and answers["forwarded"]["hsts"] == "max-age=600"
    assert answers["schema_http"]["status"] == 301
    assert answers["docs"]["status"] == 200


def test_development_keeps_plain_http_and_public_docs(tmp_path: Path) -> None:
    answers = probe(tmp_path, {"LOUPE_SECRET_KEY": "ci-only-secret-key-not-for-production",
                               "LOUPE_ALLOWED_HOSTS": HOST})
    assert answers["settings"] == {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False,
                                   "SECURE_SSL_REDIRECT": False, "LOUPE_PUBLIC_API_DOCS": True}
    assert answers["schema_http"]["status"] == 200 and answers["schema_http"]["hsts"] is None
