"""A project admin cannot take over, reset or reactivate someone else's account through an invitation, and a
set-password link never undoes a superuser's deactivation; a fresh invitee still activates with their first
password."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotations.models import AuditEvent, Membership
from tests.factories import add_member, as_user, make_project

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456"
NEW_PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def project():
    project = make_project("store-counts")
    add_member(project, "dana", "admin")
    return project


def invite(project, username: str, email: str, role: str = "annotator"):
    return as_user("dana").post(f"/api/v1/projects/{project.pk}/invitations",
                                {"username": username, "email": email, "role": role}, format="json")


def set_password(user: User, password: str = NEW_PASSWORD):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return Client().post("/api/v1/auth/password-set",
                         {"uid": uid, "token": default_token_generator.make_token(user), "new_password": password},
                         content_type="application/json")


def test_inviting_an_existing_account_adds_it_without_touching_its_password_or_sending_a_link(project):
    bob = User.objects.create_user("bob", email="bob@example.com", password=PASSWORD)
    before = User.objects.get(pk=bob.pk)
    response = invite(project, "bob", "bob@example.com")
    assert response.status_code == 201, response.content
    assert response.json()["existing_account"] is True
    assert Membership.objects.get(project=project, user=bob).role == "annotator"
    after = User.objects.get(pk=bob.pk)
    assert (after.password, after.is_active, after.email) == (before.password, True, "bob@example.com")
    [message] = mail.outbox
    assert message.to == ["bob@example.com"]
    assert "set-password" not in message.body and "token=" not in message.body
    assert Client().login(username="bob", password=PASSWORD)


def test_an_existing_username_with_another_email_is_refused_and_nothing_changes(project):
    bob = User.objects.create_user("bob", email="bob@example.com", password=PASSWORD)
    response = invite(project, "bob", "attacker@evil.example")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "username_taken" and "username" in error["details"]
    assert "bob@example.com" not in response.content.decode()
    assert not Membership.objects.filter(user=bob).exists()
    assert User.objects.get(pk=bob.pk).email == "bob@example.com"
    assert mail.outbox == []


def test_inviting_a_current_member_does_not_change_their_role(project):
    """An invitation used to overwrite the role (even the last admin's) without the members page's rules."""
    dana = User.objects.get(username="dana")
    dana.email = "dana@example.com"
    dana.save()
    add_member(project, "erin", "admin")
    User.objects.filter(username="erin").update(email="erin@example.com")
    response = invite(project, "erin", "erin@example.com", role="annotator")
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_member"
    assert Membership.objects.get(project=project, user__username="erin").role == "admin"
    assert mail.outbox == []


def test_inviting_a_deactivated_account_never_reactivates_it(project):
    mallory = User.objects.create_user("mallory", email="m@example.com", password=PASSWORD, is_active=False)
    response = invite(project, "mallory", "m@example.com")
    assert response.status_code == 201
    assert not User.objects.get(pk=mallory.pk).is_active
    assert all("set-password" not in m.body for m in mail.outbox)
    assert not Client().login(username="mallory", password=PASSWORD)


def test_a_set_password_link_does_not_reactivate_an_account_a_superuser_deactivated():
    project = make_project()
    alice = add_member(project, "alice", "annotator")
    alice.last_login = alice.date_joined
    alice.save()
    link_user = User.objects.get(pk=alice.pk)  # the link was made while the account was active
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = set_password(link_user, "a-much-better-passphrase")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"
    after = User.objects.get(pk=alice.pk)
    assert not after.is_active and after.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="password.set").exists()


def test_a_fresh_invitee_is_activated_by_their_first_password_then_an_existing_invitee_is_added_again(project):
    response = invite(project, "mo", "mo@example.com")
    assert response.status_code == 201 and response.json()["existing_account"] is False
    uid, token = re.search(r"uid=([\w-]+)&token=([\w-]+)", mail.outbox[0].body).groups()
    done = Client().post("/api/v1/auth/password-set",
                         {"uid": uid, "token": token, "new_password": "a-long-enough-passphrase"},
                         content_type="application/json")
    assert done.status_code == 204
    assert User.objects.get(username="mo").is_active
    # A second project adds the same person: no new link, their password stays theirs.
    other = make_project("bus-clips")
    Membership.objects.create(project=other, user=User.objects.get(username="dana"), role="admin")
    again = invite(other, "mo", "MO@example.com")
    assert again.status_code == 201 and again.json()["existing_account"] is True
    assert "set-password" not in mail.outbox[-1].body
    assert Client().login(username="mo", password="a-long-enough-passphrase")


def test_a_pending_invitee_invited_to_a_second_project_gets_a_working_link(project):
    assert invite(project, "mo", "mo@example.com").status_code == 201
    other = make_project("bus-clips")
    Membership.objects.create(project=other, user=User.objects.get(username="dana"), role="admin")
    again = invite(other, "mo", "mo@example.com")
    assert again.status_code == 201 and again.json()["existing_account"] is False
    assert "set-password" in mail.outbox[-1].body
    assert set_password(User.objects.get(username="mo")).status_code == 204
    assert User.objects.get(username="mo").is_active
