"""`/api/v1/projects/{id}/review-settings`: an admin changes the QA sample rate, the pre-label threshold and
the consensus overlap in the app; each change is audited, a refused one stores nothing."""

from __future__ import annotations

import pytest

from annotations.models import AuditEvent, Project
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


def url(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/review-settings"


def stored(project: Project) -> tuple[float, float, int]:
    project.refresh_from_db()
    return project.qa_sample_rate, project.prelabel_threshold, project.consensus_overlap


def test_admin_reads_the_review_settings(project):
    response = as_user("dana").get(url(project))
    assert response.status_code == 200
    assert response.json() == {"qa_sample_rate": 0.1, "prelabel_threshold": 0.5, "consensus_overlap": 1}


def test_admin_changes_the_named_settings_and_one_audit_event_has_before_and_after(project):
    response = as_user("dana").put(url(project), {"qa_sample_rate": 0.25, "prelabel_threshold": 0.6}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"qa_sample_rate": 0.25, "prelabel_threshold": 0.6, "consensus_overlap": 1}
    assert stored(project) == (0.25, 0.6, 1)
    event = AuditEvent.objects.get(action="review_settings.configured")
    assert event.project_id == project.pk and event.actor.username == "dana"
    assert event.object_type == "project" and event.object_id == str(project.pk)
    assert event.before == {"qa_sample_rate": 0.1, "prelabel_threshold": 0.5}
    assert event.after == {"qa_sample_rate": 0.25, "prelabel_threshold": 0.6}


def test_consensus_overlap_is_a_setting_too(project):
    response = as_user("dana").put(url(project), {"consensus_overlap": 2}, format="json")
    assert response.status_code == 200, response.content
    assert stored(project) == (0.1, 0.5, 2)


@pytest.mark.parametrize(("body", "field"), [
    ({"qa_sample_rate": 1.5}, "qa_sample_rate"),
    ({"qa_sample_rate": -0.1}, "qa_sample_rate"),
    ({"prelabel_threshold": 2}, "prelabel_threshold"),
    ({"prelabel_threshold": "0.7"}, "prelabel_threshold"),
    ({"qa_sample_rate": True}, "qa_sample_rate"),
    ({"qa_sample_rate": None}, "qa_sample_rate"),
    ({"consensus_overlap": 0}, "consensus_overlap"),
    ({"consensus_overlap": 1.5}, "consensus_overlap"),
    ({"consensus_overlap": "2"}, "consensus_overlap"),
    ({"qa_sample_rat": 0.2}, "qa_sample_rat"),
    ({}, "non_field_errors"),
])
def test_bad_input_is_refused_beside_its_field_and_stores_nothing(project, body, field):
    response = as_user("dana").put(url(project), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]
    assert stored(project) == (0.1, 0.5, 1)
    assert not AuditEvent.objects.filter(action="review_settings.configured").exists()


def test_one_bad_field_refuses_the_good_one_beside_it(project):
    response = as_user("dana").put(url(project), {"qa_sample_rate": 0.3, "prelabel_threshold": 7}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["prelabel_threshold"]
    assert stored(project) == (0.1, 0.5, 1)


def test_a_body_that_is_not_an_object_is_refused(project):
    response = as_user("dana").put(url(project), [0.3], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert stored(project) == (0.1, 0.5, 1)


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_other_roles_are_refused_and_outsiders_see_nothing(project, who):
    assert as_user(who).get(url(project)).status_code == 403
    response = as_user(who).put(url(project), {"qa_sample_rate": 0.9}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert as_user("charlie").get(url(project)).status_code == 404
    response = as_user("charlie").put(url(project), {"qa_sample_rate": 0.9}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert as_user(None).put(url(project), {"qa_sample_rate": 0.9}, format="json").status_code == 401
    assert stored(project) == (0.1, 0.5, 1)
    assert not AuditEvent.objects.filter(action="review_settings.configured").exists()
