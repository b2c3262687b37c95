"""The set-password link of invitation and reset emails leads to the browser app, and the app can use it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from annotations.models import AuditEvent
from tests.factories import add_member, make_project
from tests.test_app_shell import SHELL, built_app  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def emailed_link() -> str:
    [message] = mail.outbox
    match = re.search(r"https?://\S+/set-password\?\S+", message.body)
    assert match, message.body
    return match.group(0)


def invite(username: str = "mo") -> str:
    project = make_project()
    add_member(project, "dana", "admin")
    admin = APIClient()
    admin.force_authenticate(User.objects.get(username="dana"))
    response = admin.post(f"/api/v1/projects/{project.pk}/invitations",
                          {"email": f"{username}@example.com", "username": username, "role": "annotator"},
                          format="json")
    assert response.status_code == 201, response.content
    return emailed_link()


def test_invitation_link_opens_the_app_shell_and_names_the_username(built_app):  # noqa: F811
    link = invite()
    assert "Your username: mo" in mail.outbox[0].body
    parts = urlsplit(link)
    response = Client().get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    assert response.content == SHELL
    assert response["Content-Security-Policy"]


def test_invited_person_sets_a_password_from_the_link_then_signs_in():
    query = parse_qs(urlsplit(invite()).query)
    uid, token = query["uid"][0], query["token"][0]
    weak = Client().post("/api/v1/auth/password-set", {"uid": uid, "token": token, "new_password": "mo"},
                         content_type="application/json")
    assert weak.status_code == 400
    assert weak.json()["error"]["code"] == "weak_password" and weak.json()["error"]["details"]["new_password"]
    assert not User.objects.get(username="mo").is_active

    done = Client().post("/api/v1/auth/password-set",
                         {"uid": uid, "token": token, "new_password": "a-long-enough-passphrase"},
                         content_type="application/json")
    assert done.status_code == 204
    assert AuditEvent.objects.filter(action="password.set").count() == 1
    browser = Client()
    signed_in = browser.post("/api/v1/auth/login", {"username": "mo", "password": "a-long-enough-passphrase"},
                             content_type="application/json")
    assert signed_in.status_code == 200
    assert [m["role"] for m in signed_in.json()["memberships"]] == ["annotator"]


def test_reset_email_links_to_the_same_page(built_app):  # noqa: F811
    project = make_project()
    add_member(project, "alice", "annotator")
    User.objects.filter(username="alice").update(email="alice@example.com")
    Client().post("/api/v1/auth/password-reset", {"email": "alice@example.com"}, content_type="application/json")
    parts = urlsplit(emailed_link())
    assert parts.path == "/set-password"
    assert Client().get(f"{parts.path}?{parts.query}").content == SHELL
