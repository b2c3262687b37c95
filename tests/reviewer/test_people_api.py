"""Accounts, projects with statistics, the audit log and authorised media (API.md, "People")."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from annotations.models import AuditEvent, Membership, Site
from tests.factories import (
    add_member,
    as_user,
    jpeg_bytes,
    make_device_kit,
    make_items,
    make_project,
    prediction_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = make_project("store-counts")
    add_member(project, "alice", "annotator")
    add_member(project, "dana", "admin")
    User.objects.create_user("charlie", password="pw-123456", email="charlie@example.com")
    return project


def test_session_login_me_and_logout():
    project = make_project()
    add_member(project, "alice", "annotator")
    client = Client(enforce_csrf_checks=True)
    assert client.get("/api/v1/auth/me").status_code == 401
    bad = client.post("/api/v1/auth/login", {"username": "alice", "password": "nope"}, content_type="application/json")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_credentials"
    ok = client.post("/api/v1/auth/login", {"username": "alice", "password": "pw-123456"},
                     content_type="application/json")
    assert ok.status_code == 200
    me = client.get("/api/v1/auth/me").json()
    assert me["memberships"] == [{"project": project.pk, "project_slug": project.slug, "role": "annotator",
                                  "sites": []}]
    # Session writes need the CSRF token from the cookie.
    assert client.post("/api/v1/auth/logout").status_code == 403
    token = client.cookies["csrftoken"].value
    assert client.post("/api/v1/auth/logout", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_user_token_for_scripts(project):
    response = as_user("alice").post("/api/v1/auth/token")
    assert response.status_code == 201
    key = response.json()["token"]
    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/projects/").json()[0]["slug"] == "store-counts"
    rotated = as_user("alice").post("/api/v1/auth/token").json()["token"]
    assert rotated != key
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/projects/").status_code == 401


def test_password_reset_by_email_link(project):
    User.objects.filter(username="alice").update(email="alice@example.com")
    response = Client().post("/api/v1/auth/password-reset", {"email": "alice@example.com"},
                             content_type="application/json")
    assert response.status_code == 202
    assert Client().post("/api/v1/auth/password-reset", {"email": "nobody@example.com"},
                         content_type="application/json").status_code == 202  # no account probing
    [message] = mail.outbox
    uid, token = re.search(r"uid=([\w-]+)&token=([\w-]+)", message.body).groups()
    weak = Client().post("/api/v1/auth/password-set", {"uid": uid, "token": token, "new_password": "123"},
                         content_type="application/json")
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "weak_password"
    done = Client().post("/api/v1/auth/password-set",
                         {"uid": uid, "token": token, "new_password": "a-much-better-passphrase"},
                         content_type="application/json")
    assert done.status_code == 204
    assert User.objects.get(username="alice").check_password("a-much-better-passphrase")
    reused = Client().post("/api/v1/auth/password-set",
                           {"uid": uid, "token": token, "new_password": "another-good-passphrase"},
                           content_type="application/json")
    assert reused.status_code == 400 and reused.json()["error"]["code"] == "invalid_link"


def test_admin_invites_a_scoped_manager(project):
    from annotations.models import Site

    site = Site.objects.create(project=project, name="Main St")
    response = as_user("dana").post(f"/api/v1/projects/{project.pk}/invitations",
                                    {"email": "mo@example.com", "username": "mo", "role": "manager",
                                     "sites": [site.pk]}, format="json")
    assert response.status_code == 201, response.content
    membership = Membership.objects.get(user__username="mo")
    assert membership.role == "manager" and list(membership.sites.all()) == [site]
    assert not User.objects.get(username="mo").is_active
    assert "set-password?uid=" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="member.invited").exists()


def test_only_admins_invite(project):
    response = as_user("alice").post(f"/api/v1/projects/{project.pk}/invitations",
                                     {"email": "x@example.com", "username": "x", "role": "admin"}, format="json")
    assert response.status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_projects_list_shows_only_member_projects(project, django_assert_max_num_queries):
    other = make_project("bus-boarding")
    add_member(other, "bob", "annotator")
    make_items(project, 3)
    with django_assert_max_num_queries(3):
        rows = as_user("alice").get("/api/v1/projects/").json()
    assert [(r["slug"], r["pending"], r["role"]) for r in rows] == [("store-counts", 3, "annotator")]
    assert as_user("charlie").get("/api/v1/projects/").json() == []


def test_project_detail_has_queue_stats_and_outsider_gets_404(project):
    make_items(project, 4)
    stats = as_user("alice").get(f"/api/v1/projects/{project.pk}/").json()["stats"]
    assert stats["pending"] == 4 and stats["pending_by_reason"] == {"low_confidence": 4}
    assert stats["retrain_threshold"] == project.retrain_threshold
    assert as_user("charlie").get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_site_scoped_roles_get_no_project_wide_figures(project):
    """Project stats name every site and annotator; a store manager scoped to one site saw them all."""
    north, south = Site.objects.create(project=project, name="North"), Site.objects.create(project=project, name="South")
    make_items(project, 2, site=north)
    make_items(project, 3, site=south)
    add_member(project, "mia", "manager", sites=[north])
    add_member(project, "otto", "operator", sites=[south])
    for name in ("mia", "otto"):
        detail = as_user(name).get(f"/api/v1/projects/{project.pk}/").json()
        assert detail["stats"] is None and detail["role"] in {"manager", "operator"}
        assert [row["pending"] for row in as_user(name).get("/api/v1/projects/").json()] == [None]
    assert as_user("alice").get(f"/api/v1/projects/{project.pk}/").json()["stats"]["pending_by_site"] == {
        "North": 2, "South": 3}


def test_audit_log_filters_and_refuses_foreign_orderings(project):
    make_items(project, 1)
    as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json")
    rows = as_user("dana").get(f"/api/v1/projects/{project.pk}/audit", {"action": "item.leased"}).json()
    assert [r["actor__username"] for r in rows] == ["alice"]
    for bad in ({"ordering": "annotator__password"}, {"ordering": "actor__password"},
                {"actor__password__startswith": "pbkdf2"}):
        response = as_user("dana").get(f"/api/v1/projects/{project.pk}/audit", bad)
        assert response.status_code == 400, bad
    assert as_user("alice").get(f"/api/v1/projects/{project.pk}/audit").status_code == 403
    assert as_user("charlie").get(f"/api/v1/projects/{project.pk}/audit").status_code == 404


def test_assets_are_served_only_to_members_with_nosniff():
    kit = make_device_kit()
    body = jpeg_bytes()
    kit.put_media(body)
    sha = hashlib.sha256(body).hexdigest()
    kit.post_events([prediction_event("e1", sha)])
    add_member(kit.project, "alice", "annotator")
    outsider = make_project("bus-boarding")
    add_member(outsider, "charlie", "annotator")
    response = as_user("alice").get(f"/api/v1/assets/{sha}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == body
    assert as_user("charlie").get(f"/api/v1/assets/{sha}").status_code == 404
    assert as_user("alice").get(f"/api/v1/assets/{'0' * 64}").status_code == 404
    assert APIClient().get(f"/api/v1/assets/{sha}").status_code == 401
