"""`/api/v1/projects/{id}/members/`: the people of a project for its admins; role and site changes, removal,
and never a project without an admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from annotations.models import AuditEvent, Membership, Site
from tests.factories import add_member, as_user, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = make_project("store-counts")
    add_member(project, "dana", "admin")
    add_member(project, "alice", "annotator")
    add_member(project, "bob", "reviewer")
    add_member(make_project("bus-boarding"), "charlie", "admin")
    return project


def membership(username: str) -> Membership:
    return Membership.objects.get(user__username=username)


def url(project, username: str | None = None) -> str:
    base = f"/api/v1/projects/{project.pk}/members/"
    return f"{base}{membership(username).pk}" if username else base


def test_admin_lists_members_with_role_sites_and_whether_they_set_a_password(project):
    main = Site.objects.create(project=project, name="Main St")
    mo = add_member(project, "mo", "manager", sites=[main])
    mo.set_unusable_password()
    mo.is_active = False
    mo.save()
    response = as_user("dana").get(url(project))
    assert response.status_code == 200
    rows = {r["username"]: r for r in response.json()}
    assert list(rows) == ["alice", "bob", "dana", "mo"]
    assert rows["mo"]["role"] == "manager" and rows["mo"]["sites"] == [{"id": main.pk, "name": "Main St"}]
    assert rows["mo"]["active"] is False and rows["dana"]["active"] is True
    assert rows["alice"]["id"] == membership("alice").pk and rows["alice"]["added_at"]


def test_member_list_query_count_does_not_grow_with_members(project, django_assert_num_queries):
    sites = [Site.objects.create(project=project, name=f"Store {i}") for i in range(3)]
    for i in range(8):
        add_member(project, f"m{i}", "manager", sites=sites)
    client = as_user("dana")
    with django_assert_num_queries(3):  # membership check, members with users, their sites
        assert len(client.get(url(project)).json()) == 11


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_other_roles_are_refused_and_outsiders_see_nothing(project, who):
    assert as_user(who).get(url(project)).status_code == 403
    assert as_user(who).patch(url(project, "alice"), {"role": "admin"}, format="json").status_code == 403
    assert as_user(who).delete(url(project, "bob")).status_code == 403
    assert as_user("charlie").get(url(project)).status_code == 404
    assert as_user("charlie").patch(url(project, "alice"), {"role": "admin"}, format="json").status_code == 404
    assert as_user("charlie").delete(url(project, "alice")).status_code == 404
    assert membership("alice").role == "annotator" and Membership.objects.filter(user__username="bob").exists()


def test_a_membership_of_another_project_is_not_found(project):
    other = Membership.objects.get(user__username="charlie")
    response = as_user("dana").patch(f"/api/v1/projects/{project.pk}/members/{other.pk}", {"role": "annotator"},
                                     format="json")
    assert response.status_code == 404
    assert Membership.objects.get(pk=other.pk).role == "admin"


def test_admin_makes_an_annotator_a_site_scoped_manager_and_it_is_audited(project):
    main = Site.objects.create(project=project, name="Main St")
    response = as_user("dana").patch(url(project, "alice"), {"role": "manager", "sites": [main.pk]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "manager" and response.json()["sites"] == [{"id": main.pk, "name": "Main St"}]
    assert list(membership("alice").sites.all()) == [main]
    event = AuditEvent.objects.get(action="member.changed")
    assert event.actor.username == "dana" and event.object_id == str(membership("alice").pk)
    assert event.before == {"username": "alice", "role": "annotator", "sites": []}
    assert event.after == {"username": "alice", "role": "manager", "sites": [main.pk]}


def test_unscoped_roles_keep_no_sites(project):
    main = Site.objects.create(project=project, name="Main St")
    add_member(project, "mo", "manager", sites=[main])
    response = as_user("dana").patch(url(project, "mo"), {"role": "reviewer"}, format="json")
    assert response.status_code == 200 and response.json()["sites"] == []


@pytest.mark.parametrize("body, field", [
    ({"role": "manager"}, "sites"),  # a manager without sites would see nothing
    ({"role": "owner"}, "role"),
    ({"sites": "Main St"}, "sites"),
])
def test_bad_changes_are_refused_beside_the_field_and_nothing_is_stored(project, body, field):
    response = as_user("dana").patch(url(project, "alice"), body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]
    assert membership("alice").role == "annotator"
    assert not AuditEvent.objects.filter(action="member.changed").exists()


def test_sites_of_another_project_are_refused_and_nothing_is_stored(project):
    theirs = Site.objects.create(project=Membership.objects.get(user__username="charlie").project, name="Depot")
    ours = Site.objects.create(project=project, name="Main St")
    response = as_user("dana").patch(url(project, "alice"), {"role": "manager", "sites": [ours.pk, theirs.pk]},
                                     format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_site" and response.json()["error"]["details"]["sites"]
    assert membership("alice").role == "annotator" and not membership("alice").sites.exists()
    assert not AuditEvent.objects.filter(action="member.changed").exists()


def test_the_last_admin_can_be_neither_demoted_nor_removed(project):
    demote = as_user("dana").patch(url(project, "dana"), {"role": "annotator"}, format="json")
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_admin"
    remove = as_user("dana").delete(url(project, "dana"))
    assert remove.status_code == 409 and remove.json()["error"]["code"] == "last_admin"
    assert membership("dana").role == "admin"
    assert not AuditEvent.objects.filter(action__in=["member.changed", "member.removed"]).exists()


def test_with_a_second_admin_the_first_may_step_down(project):
    assert as_user("dana").patch(url(project, "bob"), {"role": "admin"}, format="json").status_code == 200
    assert as_user("dana").patch(url(project, "dana"), {"role": "reviewer"}, format="json").status_code == 200
    assert as_user("bob").patch(url(project, "bob"), {"role": "annotator"}, format="json").status_code == 409


def test_admin_removes_a_member_who_then_sees_nothing_and_it_is_audited(project):
    pk = membership("alice").pk
    assert as_user("dana").delete(url(project, "alice")).status_code == 204
    assert not Membership.objects.filter(pk=pk).exists() and User.objects.filter(username="alice").exists()
    assert as_user("alice").get(f"/api/v1/projects/{project.pk}/").status_code == 404
    event = AuditEvent.objects.get(action="member.removed")
    assert event.object_id == str(pk) and event.before["username"] == "alice" and event.actor.username == "dana"


def test_admin_lists_the_project_sites_for_the_pickers(project):
    Site.objects.create(project=project, name="Main St")
    Site.objects.create(project=project, name="Depot")
    assert [s["name"] for s in as_user("dana").get(f"/api/v1/projects/{project.pk}/sites/").json()] == \
        ["Depot", "Main St"]
    assert as_user("alice").get(f"/api/v1/projects/{project.pk}/sites/").status_code == 403
    assert as_user("charlie").get(f"/api/v1/projects/{project.pk}/sites/").status_code == 404
