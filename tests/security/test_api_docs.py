"""Finding 7 of issue 14: the OpenAPI schema and the Swagger page follow LOUPE_PUBLIC_API_DOCS: public (the
development default), or for signed-in users only (the production default, tested in
test_production_settings.py): a JSON refusal for the schema, the sign-in page for the docs page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

SCHEMA = "application/vnd.oai.openapi+json"


@pytest.fixture
def private_docs(settings) -> None:
    settings.LOUPE_PUBLIC_API_DOCS = False


@pytest.mark.django_db
def test_outside_production_the_docs_are_public(settings) -> None:
    assert settings.LOUPE_PUBLIC_API_DOCS is True
    assert Client().get("/api/v1/schema/", HTTP_ACCEPT=SCHEMA).status_code == 200
    assert Client().get("/api/docs/").status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("private_docs")
def test_private_docs_refuse_an_anonymous_visitor() -> None:
    for accept in (SCHEMA, "application/vnd.oai.openapi", "*/*"):
        refused = Client().get("/api/v1/schema/", HTTP_ACCEPT=accept)
        assert refused.status_code == 401 and refused["Content-Type"] == "application/json"
        assert refused.json()["error"]["code"] == "not_authenticated"
    page = Client().get("/api/docs/")
    assert page.status_code == 302 and page["Location"] == "/#/login"
    bad_token = Client().get("/api/v1/schema/", HTTP_ACCEPT=SCHEMA, HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert bad_token.status_code in (401, 403) and "paths" not in bad_token.json()


@pytest.mark.django_db
@pytest.mark.usefixtures("private_docs")
def test_private_docs_serve_a_signed_in_user_and_a_user_token() -> None:
    user = User.objects.create_user("alice", password="pw-123456")
    browser = Client()
    browser.force_login(user)
    schema = browser.get("/api/v1/schema/", HTTP_ACCEPT=SCHEMA)
    assert schema.status_code == 200 and "/api/v1/events" in schema.json()["paths"]
    page = browser.get("/api/docs/")
    assert page.status_code == 200 and b"swagger" in page.content.lower()
    token = Token.objects.create(user=user)
    scripted = Client().get("/api/v1/schema/", HTTP_ACCEPT=SCHEMA, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert scripted.status_code == 200 and "/api/v1/events" in scripted.json()["paths"]
