"""What the schemathesis run (test_schemathesis.py) found, one named test each: 500s from input the database
cannot hold, and responses the OpenAPI schema did not describe. On PostgreSQL and, via tests/test_sqlite_mode.py,
on SQLite (where an integer past 64 bits is an OverflowError rather than PostgreSQL's out-of-range error)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client

from activelearning.datasets.models import DatasetVersion, ExportJob
from activelearning.registry.models import ModelVersion
from annotations.models import AuditEvent, Membership, Project
from reviewer.models import ReviewItem
from tests.factories import (
    add_member,
    as_user,
    jpeg_bytes,
    make_device_kit,
    make_items,
    make_project,
    prediction_event,
)
from tests.security.test_schemathesis import CHECKS, connection_kept

pytestmark = pytest.mark.django_db
PAST_64_BITS = 2**70


@pytest.fixture
def project() -> Project:
    project = make_project()
    add_member(project, "dana", "admin")
    add_member(project, "alice", "annotator")
    make_items(project, 2)
    return project


def field_errors(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    return response.json()["error"]["details"]


# --- 500s ---------------------------------------------------------------------------------------------------

def test_a_heartbeat_counter_past_64_bits_is_a_400_naming_it() -> None:
    kit = make_device_kit()
    for counter in ("disk_free_bytes", "uptime_seconds", "dropped_frames", "outbox_depth"):
        response = kit.client.post("/api/v1/heartbeat", data={counter: PAST_64_BITS},
                                   content_type="application/json", **kit.headers())
        assert counter in field_errors(response)
    assert kit.client.post("/api/v1/heartbeat", data={"disk_free_bytes": 2**63 - 1},
                           content_type="application/json", **kit.headers()).status_code == 200


def test_site_ids_past_64_bits_are_a_400_for_members_and_invitations(project) -> None:
    membership = Membership.objects.get(project=project, user__username="alice")
    admin = as_user("dana")
    changed = admin.patch(f"/api/v1/projects/{project.pk}/members/{membership.pk}", {"sites": [PAST_64_BITS]},
                          format="json")
    assert "sites" in field_errors(changed)
    invited = admin.post(f"/api/v1/projects/{project.pk}/invitations",
                         {"username": "newbie", "email": "newbie@example.com", "role": "annotator",
                          "sites": [PAST_64_BITS]}, format="json")
    assert "sites" in field_errors(invited)


def test_a_nul_character_in_a_claim_loop_body_is_a_400_not_a_database_error(project) -> None:
    claimed = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json")
    assert claimed.status_code == 200, claimed.content
    item, token = claimed.json()["id"], claimed.json()["lease_token"]
    skip = as_user("alice").post(f"/api/v1/items/{item}/skip", {"lease_token": token[:8] + "\x00"}, format="json")
    assert "lease_token" in field_errors(skip)
    submit = as_user("alice").post(f"/api/v1/items/{item}/submit",
                                   {"lease_token": token, "boxes": [], "note": "a\x00b"}, format="json")
    assert "note" in field_errors(submit)
    assert ReviewItem.objects.get(pk=item).status == "leased"  # nothing applied


def test_a_nul_character_in_a_free_form_json_document_is_a_400_naming_where(project) -> None:
    policy = {"weights": {}, "min_priority": 0.3, "audit_sample_rate": 0,
              "rules": [{"name": "night\x00", "when": {"confidence_band": [0.1, 0.9]}}]}
    response = as_user("dana").put(f"/api/v1/projects/{project.pk}/routing-policy", {"document": policy},
                                   format="json")
    assert field_errors(response) == {"path": "/document/rules/0/name"}


def test_a_device_event_with_a_nul_character_is_rejected_alone() -> None:
    kit = make_device_kit()
    body = jpeg_bytes()
    assert kit.put_media(body).status_code in (200, 201)
    sha = hashlib.sha256(body).hexdigest()
    bad = prediction_event("e-bad", sha)
    bad["detections"][0]["label"] = "per\x00son"
    response = kit.post_events([bad, prediction_event("e-good", sha)])
    assert response.status_code == 200, response.content
    first, second = response.json()["results"]
    assert first["status"] == "rejected" and "/detections/0/label" in first["error"]["message"]
    assert second["status"] == "created"


# --- responses the schema did not describe --------------------------------------------------------------------

@pytest.fixture
def api(project):
    """Call one operation in-process as the project's admin (session + CSRF) and validate the answer against
    the served schema with schemathesis' checks."""
    browser = Client()
    browser.force_login(project.memberships.get(user__username="dana").user)
    assert browser.get("/api/v1/auth/me").status_code == 200
    served = browser.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = schemathesis.openapi.from_dict(served.json(), config=schemathesis.Config())
    schema.app = get_wsgi_application()
    cookies = {name: browser.cookies[name].value for name in ("sessionid", "csrftoken")}

    def call(method: str, path: str, *, anonymous: bool = False, **case: Any) -> Any:
        with connection_kept():
            built = schema[path][method].Case(**case, **({"media_type": "application/json"} if "body" in case else {}))
            response = built.call(cookies={} if anonymous else cookies,
                                  headers={"X-CSRFToken": cookies["csrftoken"]})
            built.validate_response(response, checks=CHECKS)  # raises, with the mismatch, if the schema does not describe it
        return response

    return call


def test_the_project_list_and_the_audit_log_are_documented_as_lists(project, api) -> None:
    AuditEvent.objects.create(project=project, action="device.created", object_type="device", object_id="1")
    assert api("GET", "/api/v1/projects/").json()[0]["slug"] == project.slug
    entries = api("GET", "/api/v1/projects/{project_id}/audit", path_parameters={"project_id": project.pk}).json()
    assert entries[0]["before"] is None and entries[0]["actor__username"] is None


def test_an_export_and_a_model_without_a_person_behind_them_match_the_schema(project, api) -> None:
    dataset = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64)
    export = ExportJob.objects.create(dataset_version=dataset, format="coco")  # requested_by: nobody (a trigger)
    assert api("GET", "/api/v1/exports/{export_id}",
               path_parameters={"export_id": export.pk}).json()["requested_by"] is None
    ModelVersion.objects.create(project=project, name="trained", version=1, file="models/x.onnx", sha256="0" * 64,
                                size_bytes=1, input_width=64, input_height=64, classes=["person"])  # by a run
    listed = api("GET", "/api/v1/projects/{project_id}/models/", path_parameters={"project_id": project.pk}).json()
    assert listed[0]["uploaded_by"] is None and listed[0]["approved_by"] is None


def test_an_asset_is_documented_as_the_image_it_is(project, api) -> None:
    kit = make_device_kit(project)
    body = jpeg_bytes()
    assert kit.put_media(body).status_code in (200, 201)
    sha = hashlib.sha256(body).hexdigest()
    kit.post_events([{"id": "e1", "type": "prediction", "captured_at": "2026-11-21T08:15:30Z", "camera": "door-1",
                      "asset": sha, "frame_index": 0, "detections": [], "reason": "low_confidence"}])
    response = api("GET", "/api/v1/assets/{sha256}", path_parameters={"sha256": sha})
    assert response.status_code == 200 and response.headers["content-type"] == ["image/jpeg"]


@pytest.mark.parametrize(("method", "path", "case", "status"), [
    ("POST", "/api/v1/auth/login", {"body": {"username": "dana", "password": "wrong"}, "anonymous": True}, 401),
    ("POST", "/api/v1/auth/password-set", {"body": {"uid": "x", "token": "y", "new_password": "Zz-12345678"},
                                           "anonymous": True}, 400),
    ("GET", "/api/v1/projects/{project_id}/", {"path_parameters": {"project_id": 10**12}}, 404),
    ("GET", "/api/v1/projects/{project_id}/audit", {"path_parameters": {"project_id": "me"},
                                                    "query": {"nonsense": "1"}}, 400),
])
def test_the_common_refusals_are_documented_for_every_operation(project, api, method, path, case, status) -> None:
    if case.get("path_parameters", {}).get("project_id") == "me":
        case["path_parameters"]["project_id"] = project.pk
    assert api(method, path, **case).status_code == status
