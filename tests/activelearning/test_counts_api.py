"""The numbers report (docs/counts-api.md): `GET /api/v1/projects/{id}/counts` and its summary.

Expected figures are worked out by hand from the seeded events, flags and reviews below. Runs on SQLite too
(tests/test_sqlite_mode.py): the buckets are the database's own truncation there.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from activelearning.numbers.figures import Corrections, trend
from activelearning.registry.models import ModelVersion
from annotations.models import Annotation, Camera, Prediction, Project, Site
from reviewer import flags
from reviewer.models import CountFlag, FlagStatus, ItemStatus, Reason, ReviewItem
from tests.factories import add_member, as_user, make_asset, make_project

pytestmark = pytest.mark.django_db

SHA_A = "a" * 64  # registered: people-det v3
SHA_B = "b" * 64  # not in the registry: the device named it people-det 4


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def count_event(camera: Camera, moment: dt.datetime, value: int, sha: str = SHA_A, asset: Any = None) -> Prediction:
    return Prediction.objects.create(
        project=camera.site.project, camera=camera, asset=asset, event_type="count", count_name="people_in",
        count_value=value, captured_at=moment, received_at=moment, payload_hash="x", model_name="people-det",
        model_version="3" if sha == SHA_A else "4", model_sha256=sha)


def reviewed_flag(camera: Camera, start: dt.datetime, end: dt.datetime, reviewed: int) -> CountFlag:
    """A flag raised through the service (model count frozen the one way), then the review's outcome stored."""
    flag = flags.create_count_flag(camera=camera, user=User.objects.get(username="dana"),
                                   window=flags.Window(start=start, end=end), observed_count=reviewed)
    CountFlag.objects.filter(pk=flag.pk).update(status=FlagStatus.REVIEWED, reviewed_count=reviewed,
                                                reviewed_at=timezone.now())
    return flag


def accepted_review(camera: Camera, moment: dt.datetime, model_value: int, corrected: int, seed: str) -> ReviewItem:
    """A clip with the model's count event on it, disputed and accepted with a corrected count."""
    project = camera.site.project
    clip = make_asset(seed, kind="clip", frame_count=10, held_by=project)
    event = count_event(camera, moment, model_value, asset=clip)
    item = ReviewItem.objects.create(project=project, asset=clip, prediction=event, site=camera.site, camera=camera,
                                     reason=Reason.DISPUTED, priority=0.5, status=ItemStatus.ACCEPTED,
                                     accepted_at=timezone.now())
    Annotation.objects.create(project=project, asset=clip, review_item_id=item.pk, version=1,
                              author=User.objects.get(username="dana"), count=corrected, submitted_at=timezone.now())
    return item


@pytest.fixture
def project() -> Project:
    project = make_project("store-counts")
    main = Site.objects.create(project=project, name="Main St")
    airport = Site.objects.create(project=project, name="Airport")
    door1 = Camera.objects.create(site=main, name="door-1")
    door2 = Camera.objects.create(site=main, name="door-2")
    gate = Camera.objects.create(site=airport, name="gate")
    add_member(project, "dana", "admin")
    add_member(project, "alice", "annotator")
    add_member(project, "mia", "manager", sites=[main])
    User.objects.create_user("charlie", password="pw-123456")
    ModelVersion.objects.create(project=project, name="people-det", version=3, file="models/a.onnx", sha256=SHA_A,
                                size_bytes=1, input_width=64, input_height=64, classes=["person"])
    # door-1, Tuesday 10 Nov: 12 counted; two flagged hours, 10:00 (model 4+3=7, truly 9) and 14:00 (5, right).
    count_event(door1, at(10, 10, 5), 4)
    accepted_review(door1, at(10, 10, 40), 3, 10, "under-flag")  # inside the 10:00 flag: the flag corrects it
    count_event(door1, at(10, 14), 5)
    reviewed_flag(door1, at(10, 10), at(10, 11), reviewed=9)
    reviewed_flag(door1, at(10, 14), at(10, 15), reviewed=5)
    # Wednesday: a disputed clip, model 6, truly 8.
    accepted_review(door1, at(11, 9), 6, 8, "dispute")
    # Thursday: the new model (not registered) and the old one the same day.
    count_event(door1, at(12, 7), 1)
    count_event(door1, at(12, 8), 10, sha=SHA_B)
    count_event(door2, at(10, 12), 2)
    count_event(gate, at(10, 9), 7)
    reviewed_flag(gate, at(10, 9), at(10, 10), reviewed=4)
    # Outside the window, and another project's camera: never in the report.
    count_event(door1, at(20, 9), 100)
    other = make_project("bus-boarding")
    count_event(Camera.objects.create(site=Site.objects.create(project=other, name="Route 42"), name="bus"),
                at(10, 9), 50)
    return project


def get(name: str | None, project: Project, **params: Any) -> Any:
    return as_user(name).get(f"/api/v1/projects/{project.pk}/counts", params)


WINDOW = {"from": "2026-11-09T00:00:00Z", "to": "2026-11-13T00:00:00+00:00"}


def rows_by_key(body: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["camera_name"], r["bucket_start"], r["model_sha256"]): r for r in body["results"]}


def test_day_rows_hold_the_model_count_and_the_corrected_windows(project):
    response = get("dana", project, **WINDOW)
    assert response.status_code == 200, response.content
    rows = rows_by_key(response.json())
    assert set(rows) == {
        ("door-1", "2026-11-10T00:00:00Z", SHA_A), ("door-1", "2026-11-11T00:00:00Z", SHA_A),
        ("door-1", "2026-11-12T00:00:00Z", SHA_A), ("door-1", "2026-11-12T00:00:00Z", SHA_B),
        ("door-2", "2026-11-10T00:00:00Z", SHA_A), ("gate", "2026-11-10T00:00:00Z", SHA_A)}
    tuesday = rows[("door-1", "2026-11-10T00:00:00Z", SHA_A)]
    assert tuesday == {
        "site": tuesday["site"], "site_name": "Main St", "camera": tuesday["camera"], "camera_name": "door-1",
        "bucket_start": "2026-11-10T00:00:00Z", "bucket": "day", "model_sha256": SHA_A,
        "model_version": ModelVersion.objects.get(sha256=SHA_A).pk, "model_name": "people-det v3",
        "model_count": 12, "corrected_windows": 2, "flag_windows": 2, "review_windows": 0, "wrong_windows": 1,
        "corrected_model_count": 12, "corrected_count": 14, "absolute_error": 2,
        "relative_error": round(2 / 14, 6), "error_rate": 0.5}
    wednesday = rows[("door-1", "2026-11-11T00:00:00Z", SHA_A)]
    assert (wednesday["model_count"], wednesday["review_windows"], wednesday["corrected_count"],
            wednesday["absolute_error"], wednesday["relative_error"], wednesday["error_rate"]) == (6, 1, 8, 2, 0.25, 1.0)
    new_model = rows[("door-1", "2026-11-12T00:00:00Z", SHA_B)]
    assert (new_model["model_count"], new_model["model_version"], new_model["model_name"]) == (10, None, "people-det v4")
    assert new_model["corrected_windows"] == 0 and new_model["error_rate"] is None
    assert new_model["corrected_count"] is None and new_model["relative_error"] is None
    gate = rows[("gate", "2026-11-10T00:00:00Z", SHA_A)]
    assert (gate["model_count"], gate["corrected_count"], gate["absolute_error"], gate["relative_error"]) == (7, 4, 3, 0.75)


def test_hour_and_week_buckets(project):
    hours = rows_by_key(get("dana", project, bucket="hour", camera=Camera.objects.get(name="door-1").pk,
                            **WINDOW).json())
    assert (hours[("door-1", "2026-11-10T10:00:00Z", SHA_A)]["model_count"],
            hours[("door-1", "2026-11-10T10:00:00Z", SHA_A)]["corrected_count"]) == (7, 9)
    assert hours[("door-1", "2026-11-10T14:00:00Z", SHA_A)]["wrong_windows"] == 0
    weeks = rows_by_key(get("dana", project, bucket="week", **WINDOW).json())
    # Tuesday 10 Nov is in the week starting Monday 9 Nov (UTC) on both databases.
    assert weeks[("door-1", "2026-11-09T00:00:00Z", SHA_A)]["model_count"] == 4 + 3 + 5 + 6 + 1
    assert weeks[("door-1", "2026-11-09T00:00:00Z", SHA_A)]["corrected_windows"] == 3
    assert weeks[("door-1", "2026-11-09T00:00:00Z", SHA_B)]["model_count"] == 10


def test_filters_narrow_the_rows(project):
    main = Site.objects.get(name="Main St")
    assert {r["camera_name"] for r in get("dana", project, site=main.pk, **WINDOW).json()["results"]} == {
        "door-1", "door-2"}
    by_sha = get("dana", project, model=SHA_B, **WINDOW).json()["results"]
    assert [(r["camera_name"], r["model_count"]) for r in by_sha] == [("door-1", 10)]
    version = ModelVersion.objects.get(sha256=SHA_A).pk
    assert {r["model_sha256"] for r in get("dana", project, model=str(version), **WINDOW).json()["results"]} == {SHA_A}
    corrected = get("dana", project, corrected_only="true", **WINDOW).json()["results"]
    assert [(r["camera_name"], r["bucket_start"], r["model_count"], r["corrected_windows"]) for r in corrected] == [
        ("door-1", "2026-11-10T00:00:00Z", 12, 2), ("door-1", "2026-11-11T00:00:00Z", 6, 1),
        ("gate", "2026-11-10T00:00:00Z", 7, 1)]
    narrow = get("dana", project, **{"from": "2026-11-11T00:00:00+01:00", "to": "2026-11-11T12:00:00Z"}).json()
    assert [(r["camera_name"], r["bucket_start"]) for r in narrow["results"]] == [("door-1", "2026-11-11T00:00:00Z")]


@pytest.mark.parametrize("corrected_only", ["false", "true"])
def test_pages_cover_every_row_once_in_order(project, corrected_only):
    everything = get("dana", project, page_size=1000, corrected_only=corrected_only, **WINDOW).json()
    assert everything["next"] is None
    seen: list[dict[str, Any]] = []
    client = as_user("dana")
    response = get("dana", project, page_size=2, bucket="day", corrected_only=corrected_only, **WINDOW)
    while True:
        body = response.json()
        assert len(body["results"]) <= 2
        seen.extend(body["results"])
        if body["next"] is None:
            break
        response = client.get(body["next"])
        assert response.status_code == 200, response.content
    assert seen == everything["results"]


def test_csv_is_every_row_of_the_json(project):
    rows = get("dana", project, **WINDOW).json()["results"]
    for response in (get("dana", project, format="csv", **WINDOW),
                     as_user("dana").get(f"/api/v1/projects/{project.pk}/counts", WINDOW, HTTP_ACCEPT="text/csv")):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert lines == [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_as_text(project):
    Camera.objects.filter(name="gate").update(name="=HYPERLINK(\"http://evil\")")
    response = get("dana", project, format="csv", **WINDOW)
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert "'=HYPERLINK(\"http://evil\")" in {line["camera_name"] for line in lines}
    assert "=HYPERLINK(\"http://evil\")" in {r["camera_name"] for r in get("dana", project, **WINDOW).json()["results"]}


def test_a_store_manager_sees_only_their_sites(project):
    rows = get("mia", project, **WINDOW).json()["results"]
    assert {r["site_name"] for r in rows} == {"Main St"}
    airport = Site.objects.get(name="Airport")
    refused = get("mia", project, site=airport.pk, **WINDOW)
    assert refused.status_code == 400 and "site" in refused.json()["error"]["details"]
    refused = get("mia", project, camera=Camera.objects.get(name="gate").pk, **WINDOW)
    assert refused.status_code == 400 and "camera" in refused.json()["error"]["details"]
    summary = as_user("mia").get(f"/api/v1/projects/{project.pk}/counts/summary", WINDOW).json()["results"]
    assert {s["camera_name"] for s in summary} == {"door-1", "door-2"}


def test_outsiders_get_404_annotators_403_anonymous_401(project):
    assert get("charlie", project, **WINDOW).status_code == 404
    assert as_user("charlie").get(f"/api/v1/projects/{project.pk}/counts/summary").status_code == 404
    assert get("alice", project, **WINDOW).status_code == 403
    assert get(None, project, **WINDOW).status_code in (401, 403)


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2026-11-09T00:00:00", "to": "2026-11-10T00:00:00Z"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-11-10T00:00:00Z", "to": "2026-11-09T00:00:00Z"}, "to"),
    ({"from": "2025-01-01T00:00:00Z", "to": "2026-11-09T00:00:00Z", "bucket": "hour"}, "from"),
    ({"bucket": "month"}, "bucket"),
    ({"to": "0001-01-02T00:00:00Z"}, "from"),
    ({"from": "9999-12-30T00:00:00Z"}, "to"),
    ({"model": "9999"}, "model"),
    ({"model": "not-a-model"}, "model"),
    ({"cursor": "%%%"}, "cursor"),
    ({"cursor": "bm90LWpzb24"}, "cursor"),
    ({"page_size": "0"}, "page_size"),
    ({"format": "xml"}, "format"),
    ({"corrected_only": "maybe"}, "corrected_only"),
])
def test_bad_input_is_a_400_beside_the_field(project, params, field):
    response = get("dana", project, **params)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]


def test_a_site_without_cameras_has_no_rows(project):
    empty = Site.objects.create(project=project, name="Warehouse")
    response = get("dana", project, site=empty.pk, **WINDOW)
    assert response.status_code == 200 and response.json()["results"] == []


def test_a_site_or_camera_of_another_project_is_a_400(project):
    other = Project.objects.get(slug="bus-boarding")
    response = get("dana", project, site=Site.objects.get(project=other).pk)
    assert response.status_code == 400 and "site" in response.json()["error"]["details"]
    response = get("dana", project, camera=Camera.objects.get(name="bus").pk)
    assert response.status_code == 400 and "camera" in response.json()["error"]["details"]


def test_summary_has_totals_models_and_trend(project):
    response = as_user("dana").get(f"/api/v1/projects/{project.pk}/counts/summary", WINDOW)
    assert response.status_code == 200, response.content
    door1 = next(s for s in response.json()["results"] if s["camera_name"] == "door-1")
    assert door1["model_count"] == 12 + 6 + 1 + 10
    assert (door1["corrected_windows"], door1["corrected_count"], door1["absolute_error"]) == (3, 22, 4)
    assert door1["relative_error"] == round(4 / 22, 6) and door1["error_rate"] == round(2 / 3, 6)
    assert door1["model_sha256"] == SHA_B and door1["model_name"] == "people-det v4"
    assert [m["model_sha256"] for m in door1["models"]] == [SHA_A, SHA_B]
    # Tuesday 2/14 then Wednesday 2/8: worse.
    assert door1["trend"] == {"direction": "worse", "recent": 0.25, "previous": round(2 / 14, 6), "buckets": 1}


def test_a_page_costs_a_fixed_number_of_queries(project, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert get("dana", project, page_size=1000, **WINDOW).status_code == 200
    door1 = Camera.objects.get(name="door-1")
    for day in range(1, 8):
        count_event(door1, at(day, 6), 1)
        reviewed_flag(door1, at(day, 6), at(day, 7), reviewed=2)
    with django_assert_max_num_queries(12):
        assert get("dana", project, page_size=1000, **WINDOW).status_code == 200


def test_trend_needs_a_corrected_bucket_on_each_side():
    one = Corrections.of_window(model_count=5, corrected_count=5)
    off = Corrections.of_window(model_count=5, corrected_count=10)
    assert trend([one]).direction is None
    assert trend([off, Corrections(), one]).direction == "better"
    assert trend([one, one]).direction == "flat"
    assert trend([one, one, off, off], n=2).direction == "worse"
