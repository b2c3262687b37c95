"""Unknown drift is not OK: the drift API says per camera whether it is alerting, ok (every metric measured),
partial (some metrics without enough samples, named), not_enough_data (none measured) or not_computed, and a
summary per status, so no page calls "no camera is drifting" what it cannot know."""

from __future__ import annotations

import pytest

from activelearning.monitoring.models import DriftPolicy, DriftState
from annotations.models import Camera, Project
from tests.activelearning.test_drift import DAY, NOW, camera_of, healthy, run, shifted
from tests.factories import add_member, as_user, make_device_kit, make_project

ALL = ["psi", "correction_rate", "count_error"]


@pytest.fixture
def project(db) -> Project:
    project = make_device_kit(make_project("store-counts")).project
    add_member(project, "dana", "admin")
    DriftPolicy.objects.create(project=project, min_boxes=100, min_reviews=4, min_flags=2)
    return project


def overview(project: Project) -> dict:
    response = as_user("dana").get(f"/api/v1/projects/{project.pk}/drift/")
    assert response.status_code == 200, response.content
    return response.json()


def snapshot(camera: Camera, **metrics: object) -> None:
    DriftState.objects.create(camera=camera, project_id=camera.site.project_id, computed_at=NOW, **metrics)


def test_a_computed_camera_with_too_few_samples_for_every_metric_is_not_enough_data_not_ok(
        project, postgres, django_capture_on_commit_callbacks):
    healthy(camera_of(project), NOW - 3 * DAY, NOW - 2 * DAY)  # nothing in the current window
    [state] = run(project, NOW, django_capture_on_commit_callbacks)
    assert state.computed_at is not None and state.psi is None and state.alerting == {}

    body = overview(project)
    [row] = body["cameras"]
    assert row["status"] == "not_enough_data" and row["unknown_metrics"] == ALL
    assert body["summary"] == {"cameras": 1, "alerting": 0, "ok": 0, "partial": 0, "not_enough_data": 1,
                               "not_computed": 0}


def test_a_camera_measured_on_some_metrics_only_is_partial_and_names_the_rest(
        project, postgres, django_capture_on_commit_callbacks):
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW)
    run(project, NOW, django_capture_on_commit_callbacks)
    [row] = overview(project)["cameras"]
    assert row["psi"] == pytest.approx(0.0, abs=1e-9)
    assert row["status"] == "partial" and row["unknown_metrics"] == ["correction_rate", "count_error"]


def test_ok_only_when_every_metric_is_measured_and_none_alerts(project):
    snapshot(camera_of(project), psi=0.05, correction_rate=0.1, count_error=1.0)
    body = overview(project)
    [row] = body["cameras"]
    assert row["status"] == "ok" and row["unknown_metrics"] == []
    assert body["summary"]["ok"] == 1


def test_an_alerting_camera_is_alerting_even_with_unknown_metrics(project, postgres,
                                                                  django_capture_on_commit_callbacks):
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - DAY, NOW)
    run(project, NOW, django_capture_on_commit_callbacks)
    [row] = overview(project)["cameras"]
    assert row["status"] == "alerting" and row["unknown_metrics"] == ["correction_rate", "count_error"]


def test_the_summary_counts_each_status(project):
    door = camera_of(project)
    till = Camera.objects.create(site=door.site, name="till-2")
    Camera.objects.create(site=door.site, name="back-3")  # never computed
    snapshot(door, psi=0.9, alerting={"psi": NOW.isoformat()})
    snapshot(till)
    body = overview(project)
    assert {r["camera_name"]: r["status"] for r in body["cameras"]} == {
        "door-1": "alerting", "till-2": "not_enough_data", "back-3": "not_computed"}
    assert body["summary"] == {"cameras": 3, "alerting": 1, "ok": 0, "partial": 0, "not_enough_data": 1,
                               "not_computed": 1}
