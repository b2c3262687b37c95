"""Admins register a device from the browser (`POST /projects/{id}/devices/`: its token shown once, stored
hashed) and revoke one (`POST /devices/{id}/revoke`: audited, idempotent, the token then gets 401)."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from annotations.models import AuditEvent, Camera, Device, Site
from tests.factories import add_member, as_user, make_device_kit, make_project

pytestmark = pytest.mark.django_db

BODY = {"site": "Main St", "name": "main-st-door", "cameras": ["door-1", "tills"]}


@pytest.fixture
def project():
    project = make_project("store-counts")
    add_member(project, "dana", "admin")
    add_member(project, "alice", "annotator")
    add_member(make_project("bus-boarding"), "charlie", "admin")
    return project


def register(project, body=BODY, who="dana"):
    return as_user(who).post(f"/api/v1/projects/{project.pk}/devices/", body, format="json")


def heartbeat(token: str):
    return Client().post("/api/v1/heartbeat", {"software_version": "1.0"}, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {token}")


def test_admin_registers_a_device_and_sees_its_token_once_stored_hashed(project):
    response = register(project)
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    token = response.json()["token"]
    device = Device.objects.get(pk=response.json()["device"]["id"])
    assert device.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in device.token_hash
    assert device.token_prefix == token[:10] and device.site.name == "Main St"
    assert sorted(Camera.objects.filter(device=device).values_list("name", flat=True)) == ["door-1", "tills"]
    assert [c["name"] for c in response.json()["device"]["cameras"]] == ["door-1", "tills"]
    listed = as_user("dana").get(f"/api/v1/projects/{project.pk}/devices/").json()
    assert token not in str(listed)
    assert heartbeat(token).status_code == 200
    event = AuditEvent.objects.get(action="device.created")
    assert event.actor.username == "dana" and event.after["cameras"] == ["door-1", "tills"]


def test_only_admins_register_and_outsiders_see_nothing(project):
    assert register(project, who="alice").status_code == 403
    assert register(project, who="charlie").status_code == 404
    assert not Device.objects.exists() and not Site.objects.filter(project=project).exists()


@pytest.mark.parametrize("body, field", [
    ({**BODY, "cameras": []}, "cameras"),
    ({**BODY, "cameras": ["door-1", "door-1"]}, "cameras"),
    ({**BODY, "site": ""}, "site"),
    ({**BODY, "name": "<script>"}, "name"),
    ({"site": "Main St", "cameras": ["door-1"]}, "name"),
])
def test_bad_registrations_are_refused_beside_the_field_and_nothing_is_stored(project, body, field):
    response = register(project, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and field in response.json()["error"]["details"]
    assert not Device.objects.exists() and not Site.objects.filter(project=project).exists()
    assert not AuditEvent.objects.filter(action="device.created").exists()


def test_a_second_device_of_the_same_name_is_refused(project):
    assert register(project).status_code == 201
    again = register(project, {**BODY, "site": "Depot"})
    assert again.status_code == 400 and "name" in again.json()["error"]["details"]
    assert Device.objects.count() == 1 and not Site.objects.filter(name="Depot").exists()


def test_admin_revokes_a_device_whose_token_then_gets_401_and_again_changes_nothing(project):
    issued = register(project).json()
    url = f"/api/v1/devices/{issued['device']['id']}/revoke"
    first = as_user("dana").post(url)
    assert first.status_code == 200 and first.json()["revoked"] is True
    assert heartbeat(issued["token"]).status_code == 401
    again = as_user("dana").post(url)
    assert again.status_code == 200 and again.json()["revoked_at"] == first.json()["revoked_at"]
    event = AuditEvent.objects.get(action="device.revoked")
    assert event.actor.username == "dana" and event.object_id == str(issued["device"]["id"])


def test_only_admins_of_the_devices_project_revoke_it(project):
    kit = make_device_kit(make_project("elsewhere"))
    add_member(kit.project, "alice", "annotator")
    url = f"/api/v1/devices/{kit.device.pk}/revoke"
    assert as_user("alice").post(url).status_code == 403
    assert as_user("dana").post(url).status_code == 404
    assert as_user("dana").post("/api/v1/devices/999999/revoke").status_code == 404
    assert Device.objects.get(pk=kit.device.pk).revoked_at is None
    assert not AuditEvent.objects.filter(action="device.revoked").exists()
