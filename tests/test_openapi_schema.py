"""The OpenAPI schema is generated without warnings and describes the device API (API.md)."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from django.test import Client


@pytest.mark.django_db
def test_schema_is_served_and_lists_the_device_endpoints():
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    assert {"/api/v1/media/{sha256}", "/api/v1/events", "/api/v1/heartbeat"} <= paths.keys()
    assert "put" in paths["/api/v1/media/{sha256}"]
    event = schema["components"]["schemas"]["Event"]
    assert {"id", "type", "captured_at", "camera"} <= set(event["required"])
    assert schema["components"]["securitySchemes"]["deviceToken"]["scheme"] == "bearer"


def test_schema_generation_has_no_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate", "--fail-on-warn")
    assert out.stat().st_size > 1000


@pytest.mark.django_db
def test_api_docs_page_is_served_without_a_cdn():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn" not in response.content.lower()
