"""Count flags (API.md "People", DESIGN.md "Count flags"): counts over time and flags on a window."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotations.models import Asset, AuditEvent, Camera, Prediction, Project, Site
from reviewer import flags
from reviewer.api.serializers import item_payload
from reviewer.models import CountFlag, ReviewItem
from tests.factories import add_member, as_user, make_asset, make_items, make_project

pytestmark = pytest.mark.django_db

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


@pytest.fixture
def project() -> Project:
    project = make_project("store-counts")
    store = Site.objects.create(project=project, name="Main St")
    bus = Site.objects.create(project=project, name="Route 42", kind="bus")
    Camera.objects.create(site=store, name="door-1")
    Camera.objects.create(site=bus, name="bus-door")
    add_member(project, "alice", "annotator")
    add_member(project, "bob", "reviewer")
    add_member(project, "dana", "admin")
    add_member(project, "maria", "manager", sites=[store])
    add_member(project, "otto", "operator", sites=[bus])
    User.objects.create_user("charlie", password="pw-123456")
    add_member(make_project("bus-boarding"), "eve", "admin")
    return project


def door() -> Camera:
    return Camera.objects.get(name="door-1")


def bus_door() -> Camera:
    return Camera.objects.get(name="bus-door")


def count_event(camera: Camera, at: dt.datetime, value: int, name: str = "people_in") -> Prediction:
    return Prediction.objects.create(project=camera.site.project, camera=camera, event_type="count",
                                     count_name=name, count_value=value, captured_at=at, received_at=at,
                                     payload_hash="x")


def frame_event(camera: Camera, at: dt.datetime, detections: int, asset_seed: str | None = None) -> Prediction:
    asset = make_asset(asset_seed) if asset_seed is not None else None
    return Prediction.objects.create(project=camera.site.project, camera=camera, asset=asset,
                                     event_type="prediction", detection_count=detections, captured_at=at,
                                     received_at=at, payload_hash="x")


def make_sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def get_counts(name: str | None, camera: Camera, **params: str) -> Any:
    return as_user(name).get(f"/api/v1/cameras/{camera.pk}/counts", params)


def post_flag(name: str | None, camera: Camera, **body: Any) -> Any:
    return as_user(name).post(f"/api/v1/cameras/{camera.pk}/count-flags", body, format="json")


def at(hour: int, minute: int = 0) -> dt.datetime:
    return DAY.replace(hour=hour, minute=minute)


@pytest.fixture
def morning(project: Project) -> None:
    """Count events 08:05 in=3, 08:40 in=2, 08:50 out=1, 09:10 in=4 on the door; noise around them."""
    camera = door()
    count_event(camera, at(8, 5), 3)
    count_event(camera, at(8, 40), 2)
    count_event(camera, at(8, 50), 1, name="people_out")
    count_event(camera, at(9, 10), 4)
    count_event(camera, at(7, 59), 100)  # before the window
    count_event(camera, at(10, 0), 100)  # the window is half-open: `to` is excluded
    count_event(bus_door(), at(8, 30), 100)  # another camera
    frame_event(camera, at(8, 10), 2)
    frame_event(camera, at(8, 20), 4)
    frame_event(camera, at(9, 30), 1)


def test_counts_are_summed_per_hour_and_count_name_with_mean_detections(morning):
    response = get_counts("maria", door(), **{"from": iso(at(8)), "to": iso(at(10)), "bucket": "1h"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["camera"], body["bucket"]) == (door().pk, "1h")
    assert body["series"] == [
        {"start": "2026-11-20T08:00:00Z", "count_name": "people_in", "value": 5, "events": 2},
        {"start": "2026-11-20T08:00:00Z", "count_name": "people_out", "value": 1, "events": 1},
        {"start": "2026-11-20T09:00:00Z", "count_name": "people_in", "value": 4, "events": 1},
    ]
    assert body["detections"] == [{"start": "2026-11-20T08:00:00Z", "mean_detections": 3.0},
                                  {"start": "2026-11-20T09:00:00Z", "mean_detections": 1.0}]


@pytest.mark.parametrize(("bucket", "expected"), [
    ("5m", [("08:05", "people_in", 3), ("08:40", "people_in", 2), ("08:50", "people_out", 1),
            ("09:10", "people_in", 4)]),
    ("15m", [("08:00", "people_in", 3), ("08:30", "people_in", 2), ("08:45", "people_out", 1),
             ("09:00", "people_in", 4)]),
    ("1d", [("00:00", "people_in", 9), ("00:00", "people_out", 1)]),
])
def test_counts_bucket_on_utc_boundaries(morning, bucket, expected):
    response = get_counts("dana", door(), **{"from": iso(at(8)), "to": iso(at(10)), "bucket": bucket})
    assert response.status_code == 200, response.content
    got = [(row["start"], row["count_name"], row["value"]) for row in response.json()["series"]]
    assert got == [(f"2026-11-20T{hhmm}:00Z", name, value) for hhmm, name, value in expected]


def test_counts_default_to_the_last_24_hours_by_hour(project):
    camera = door()
    count_event(camera, timezone.now() - dt.timedelta(hours=2), 7)
    count_event(camera, timezone.now() - dt.timedelta(hours=30), 100)
    body = get_counts("maria", camera).json()
    assert body["bucket"] == "1h"
    start, end = dt.datetime.fromisoformat(body["from"]), dt.datetime.fromisoformat(body["to"])
    assert end - start == dt.timedelta(hours=24)
    assert [row["value"] for row in body["series"]] == [7]


@pytest.mark.parametrize(("params", "code"), [
    ({"bucket": "7m"}, "invalid"),
    ({"from": iso(at(10)), "to": iso(at(8))}, "invalid_window"),
    ({"from": iso(at(8)), "to": iso(at(8))}, "invalid_window"),
    ({"from": iso(at(8) - dt.timedelta(days=32)), "to": iso(at(8))}, "window_too_long"),
    ({"from": "2026-11-20T08:00:00", "to": iso(at(10))}, "invalid"),
    ({"from": "yesterday"}, "invalid"),
])
def test_bad_counts_query_is_400_with_the_error_shape(project, params, code):
    response = get_counts("maria", door(), **params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(("name", "status"), [
    ("maria", 404),  # manager of the store, not of the bus
    ("charlie", 404),  # no membership
    ("eve", 404),  # admin of another project
    (None, 401),
])
def test_counts_outside_the_callers_sites_or_project_are_hidden(project, name, status):
    response = get_counts(name, bus_door())
    assert response.status_code == status
    assert response.json()["error"]["code"] == ("not_found" if status == 404 else "not_authenticated")


def test_counts_of_an_unknown_camera_are_404(project):
    assert as_user("dana").get("/api/v1/cameras/999999/counts").status_code == 404


def test_counts_query_count_does_not_grow_with_events(morning, django_assert_num_queries):
    params = {"from": iso(at(8)), "to": iso(at(10)), "bucket": "15m"}
    url, maria = f"/api/v1/cameras/{door().pk}/counts", as_user("maria")
    # camera, membership, site scope, series, detections
    with django_assert_num_queries(5):
        assert maria.get(url, params).status_code == 200
    for minute in range(0, 60, 3):
        count_event(door(), at(8, minute), 1)
        frame_event(door(), at(9, minute), 3)
    with django_assert_num_queries(5):
        assert len(maria.get(url, params).json()["series"]) == 6


@pytest.fixture
def recent(project: Project) -> dict[str, dt.datetime]:
    """A window two hours ago on the door: count events totalling 6, three frames/clips, noise outside."""
    end = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=1)
    camera = door()
    count_event(camera, start + dt.timedelta(minutes=5), 2)
    count_event(camera, start + dt.timedelta(minutes=35), 4)
    count_event(camera, start - dt.timedelta(minutes=5), 50)
    count_event(bus_door(), start + dt.timedelta(minutes=10), 50)
    frame_event(camera, start + dt.timedelta(minutes=20), 1, asset_seed="second")
    frame_event(camera, start + dt.timedelta(minutes=2), 1, asset_seed="first")
    frame_event(camera, start + dt.timedelta(minutes=40), 1, asset_seed="second-again")
    frame_event(camera, start - dt.timedelta(minutes=1), 1, asset_seed="before")
    frame_event(bus_door(), start + dt.timedelta(minutes=3), 1, asset_seed="other-camera")
    return {"start": start, "end": end}


def test_flag_queues_a_count_flag_item_with_the_windows_assets(recent, monkeypatch):
    pushed: list[dict[str, Any]] = []
    monkeypatch.setattr(flags, "publish", lambda *, project_id, message: pushed.append(message))
    response = post_flag("maria", door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]),
                                             "observed_count": 9, "note": "queue at the door"})
    assert response.status_code == 201, response.content
    body = response.json()
    flag = CountFlag.objects.get()
    assert (body["id"], body["observed_count"], body["model_count"], body["status"]) == (flag.pk, 9, 6, "open")
    assert flag.flagged_by.username == "maria" and flag.window_start == recent["start"]
    first, second, again = (make_sha(seed) for seed in ("first", "second", "second-again"))
    assert flag.assets == body["assets"] == [first, second, again]
    item = ReviewItem.objects.get()
    assert flag.review_item == item and body["review_item"]["id"] == item.pk
    assert (item.reason, item.status, item.camera, item.site) == ("count_flag", "pending", door(), door().site)
    assert item.asset is not None and item.asset.sha256 == first
    assert item.score_parts == {"observed": 9, "model_count": 6, "relative_error": pytest.approx(1 / 3)}
    assert item.priority == pytest.approx(1 / 3)
    audit = AuditEvent.objects.get(action="flag.created")
    assert (audit.object_type, audit.object_id, audit.actor.username) == ("count_flag", str(flag.pk), "maria")
    assert pushed == [{"type": "flag.created", "flag": flag.pk, "camera": door().pk, "site": door().site_id,
                       "observed_count": 9, "model_count": 6}]


def test_flag_on_a_window_without_media_queues_an_item_without_asset(project):
    end = timezone.now() - dt.timedelta(minutes=10)
    response = post_flag("otto", bus_door(), **{"from": iso(end - dt.timedelta(hours=6)), "to": iso(end),
                                                "observed_count": 4})
    assert response.status_code == 201, response.content
    item = ReviewItem.objects.get()
    assert item.asset is None and item.priority == 1.0  # the model counted 0 of 4
    assert response.json()["assets"] == [] and response.json()["model_count"] == 0


@pytest.mark.parametrize("name", ["alice", "bob"])
def test_annotators_and_reviewers_may_not_flag(recent, name):
    response = post_flag(name, door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]),
                                          "observed_count": 3})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert not CountFlag.objects.exists() and not ReviewItem.objects.exists()


@pytest.mark.parametrize(("name", "status"), [("maria", 404), ("charlie", 404), ("eve", 404), (None, 401)])
def test_flag_outside_the_callers_sites_or_project_is_refused(recent, name, status):
    response = post_flag(name, bus_door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]),
                                              "observed_count": 3})
    assert response.status_code == status
    assert not CountFlag.objects.exists() and not ReviewItem.objects.exists()


def bad_flag_bodies() -> list[tuple[str, dict[str, Any], str]]:
    now = timezone.now()
    hour = dt.timedelta(hours=1)
    return [
        ("to before from", {"from": iso(now - hour), "to": iso(now - 2 * hour), "observed_count": 1},
         "invalid_window"),
        ("over 6 hours", {"from": iso(now - 8 * hour), "to": iso(now - hour), "observed_count": 1},
         "window_too_long"),
        ("in the future", {"from": iso(now), "to": iso(now + hour), "observed_count": 1}, "window_in_future"),
        ("negative count", {"from": iso(now - 2 * hour), "to": iso(now - hour), "observed_count": -1}, "invalid"),
        ("missing count", {"from": iso(now - 2 * hour), "to": iso(now - hour)}, "invalid"),
        ("naive time", {"from": "2026-11-20T08:00:00", "to": "2026-11-20T09:00:00", "observed_count": 1},
         "invalid"),
        ("long note", {"from": iso(now - 2 * hour), "to": iso(now - hour), "observed_count": 1,
                       "note": "x" * 2001}, "invalid"),
    ]


@pytest.mark.parametrize("case", range(len(bad_flag_bodies())),
                         ids=[case[0] for case in bad_flag_bodies()])
def test_bad_flag_is_400_and_stores_nothing(project, case):
    _, body, code = bad_flag_bodies()[case]
    response = post_flag("maria", door(), **body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not CountFlag.objects.exists() and not ReviewItem.objects.exists()
    assert not AuditEvent.objects.filter(action="flag.created").exists()


def test_script_in_a_note_is_stored_and_returned_as_text(recent):
    note = '<script>alert("x")</script>'
    response = post_flag("maria", door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]),
                                             "observed_count": 6, "note": note})
    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["note"] == note
    assert CountFlag.objects.get().note == note
    listed = as_user("maria").get(f"/api/v1/cameras/{door().pk}/count-flags").json()
    assert listed["results"][0]["note"] == note


def test_managers_list_their_own_flags_and_admins_all(recent):
    window = {"from": iso(recent["start"]), "to": iso(recent["end"])}
    add_member(Project.objects.get(slug="store-counts"), "mike", "manager", sites=[door().site])
    assert post_flag("maria", door(), **window, observed_count=1).status_code == 201
    assert post_flag("mike", door(), **window, observed_count=2).status_code == 201
    assert post_flag("dana", door(), **window, observed_count=3).status_code == 201

    def listed(name: str) -> list[int]:
        response = as_user(name).get(f"/api/v1/cameras/{door().pk}/count-flags")
        assert response.status_code == 200, response.content
        return [flag["observed_count"] for flag in response.json()["results"]]

    assert listed("maria") == [1]
    assert listed("dana") == [3, 2, 1]
    assert listed("bob") == [3, 2, 1]
    assert as_user("alice").get(f"/api/v1/cameras/{door().pk}/count-flags").status_code == 403
    assert as_user("otto").get(f"/api/v1/cameras/{door().pk}/count-flags").status_code == 404
    assert as_user("eve").get(f"/api/v1/cameras/{door().pk}/count-flags").status_code == 404


def test_flag_list_query_count_does_not_grow_with_flags(recent, django_assert_num_queries):
    window = {"from": iso(recent["start"]), "to": iso(recent["end"])}
    url, dana = f"/api/v1/cameras/{door().pk}/count-flags", as_user("dana")
    post_flag("dana", door(), **window, observed_count=1)
    # camera, membership, flags with their author and item
    with django_assert_num_queries(3):
        assert len(dana.get(url).json()["results"]) == 1
    for observed in range(5):
        post_flag("dana", door(), **window, observed_count=observed)
    with django_assert_num_queries(3):
        assert len(dana.get(url).json()["results"]) == 6


def test_flag_is_marked_reviewed_only_once_its_item_is_accepted(recent):
    post_flag("maria", door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]), "observed_count": 2})
    item = ReviewItem.objects.get()
    assert flags.close_count_flag(item=item) == 0
    ReviewItem.objects.filter(pk=item.pk).update(status="accepted")
    item.refresh_from_db()
    assert flags.close_count_flag(item=item) == 1
    listed = as_user("maria").get(f"/api/v1/cameras/{door().pk}/count-flags").json()["results"]
    assert (listed[0]["status"], listed[0]["review_item"]["status"]) == ("reviewed", "accepted")


def test_flag_is_closed_when_an_annotator_settles_its_item_through_the_queue(recent, project):
    project.qa_sample_rate = 0.0
    project.save()
    post_flag("maria", door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]), "observed_count": 9})
    alice = as_user("alice")
    claimed = alice.post(f"/api/v1/projects/{project.pk}/queue/claim", {"reason": "count_flag"}, format="json").json()
    response = alice.post(f"/api/v1/items/{claimed['id']}/submit",
                          {"lease_token": claimed["lease_token"], "boxes": [], "count": 9}, format="json")
    assert response.status_code == 201 and response.json()["item_status"] == "accepted"
    assert CountFlag.objects.get().status == "reviewed"


# --- One model count everywhere, the reviewer's context, and the outcome the flagger reads back ---------------


@pytest.fixture
def straddling(project: Project) -> dict[str, Any]:
    """A 75-minute window that does not sit on hour buckets, with count events inside, at both edges and in
    the parts of its first and last hour buckets outside it: summing whole buckets (the old form) gives 61,
    the window holds 34."""
    end = timezone.now().replace(minute=35, second=0, microsecond=0) - dt.timedelta(hours=2)
    start = end - dt.timedelta(minutes=75)  # hh:20 → (hh+1):35
    camera = door()
    for minutes, value in ((-10, 9), (0, 10), (30, 12), (50, 7), (74, 5), (75, 18)):
        count_event(camera, start + dt.timedelta(minutes=minutes), value)
    frame_event(camera, start + dt.timedelta(minutes=40), 3, asset_seed="clip-in-window")
    frame_event(camera, start + dt.timedelta(minutes=5), 2, asset_seed="frame-in-window")
    Asset.objects.filter(sha256=make_sha("clip-in-window")).update(kind="clip")
    return {"start": start, "end": end, "model_count": 10 + 12 + 7 + 5}


def whole_buckets(series: list[dict[str, Any]], start: dt.datetime, end: dt.datetime) -> int:
    """The old flag form's rule (series.ts `totalIn`): every bucket whose start falls in [from, to)."""
    return sum(row["value"] for row in series
               if start <= dt.datetime.fromisoformat(row["start"].replace("Z", "+00:00")) < end)


def test_the_model_count_is_one_number_on_the_form_the_flag_the_item_and_qa(straddling, project):
    window = {"from": iso(straddling["start"]), "to": iso(straddling["end"])}
    hour_start = straddling["start"].replace(minute=0)
    chart = get_counts("maria", door(), **{"from": iso(hour_start), "to": iso(hour_start + dt.timedelta(hours=3)),
                                            "bucket": "1h"}).json()
    # What the old form showed: whole buckets, so a different number from the stored flag's.
    assert whole_buckets(chart["series"], straddling["start"], straddling["end"]) != straddling["model_count"]

    form = as_user("maria").get(f"/api/v1/cameras/{door().pk}/counts/window", window)
    assert form.status_code == 200, form.content
    assert form.json()["model_count"] == straddling["model_count"] == 34
    assert form.json()["assets"] == 2
    created = post_flag("maria", door(), **window, observed_count=40, note="a school group came in")
    flag = CountFlag.objects.get()
    assert created.json()["model_count"] == flag.model_count == 34
    assert flag.review_item.score_parts["model_count"] == 34
    claimed = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {"reason": "count_flag"},
                                    format="json").json()
    assert claimed["count_flag"]["model_count"] == 34
    qa = as_user("bob").get(f"/api/v1/items/{flag.review_item_id}/history").json()
    assert qa["item"]["count_flag"]["model_count"] == 34
    # On a window that sits on the buckets, the chart's buckets add up to the same number.
    aligned = {"from": iso(hour_start), "to": iso(hour_start + dt.timedelta(hours=2))}
    in_buckets = whole_buckets(chart["series"], hour_start, hour_start + dt.timedelta(hours=2))
    assert as_user("maria").get(f"/api/v1/cameras/{door().pk}/counts/window", aligned).json()[
        "model_count"] == in_buckets


def test_a_claimed_count_flag_item_carries_its_window_note_counts_and_frames(straddling, project):
    post_flag("maria", door(), **{"from": iso(straddling["start"]), "to": iso(straddling["end"]),
                                  "observed_count": 40, "note": "a school group came in"})
    flag = CountFlag.objects.get()
    claimed = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {"reason": "count_flag"},
                                    format="json").json()
    assert claimed["id"] == flag.review_item_id
    assert claimed["count_flag"] == {
        "id": flag.pk, "window_start": straddling["start"].isoformat(), "window_end": straddling["end"].isoformat(),
        "observed_count": 40, "model_count": 34, "note": "a school group came in", "flagged_by": "maria",
        "camera": {"id": door().pk, "name": "door-1"},
        "assets": [
            {"sha256": make_sha("frame-in-window"), "kind": "frame",
             "captured_at": (straddling["start"] + dt.timedelta(minutes=5)).isoformat()},
            {"sha256": make_sha("clip-in-window"), "kind": "clip",
             "captured_at": (straddling["start"] + dt.timedelta(minutes=40)).isoformat()},
        ],
    }


def test_other_items_carry_no_count_flag_and_cost_no_query_for_it(project, django_assert_num_queries):
    item = make_items(project, 1)[0]
    item = ReviewItem.objects.select_related("project", "asset", "prediction").get(pk=item.pk)  # as a claim loads it
    with django_assert_num_queries(0):
        assert item_payload(item)["count_flag"] is None


def test_accepting_the_item_stores_the_reviewed_count_on_the_flag_for_the_flagger(recent, project):
    project.qa_sample_rate = 1.0  # every item goes through QA
    project.save()
    post_flag("maria", door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]), "observed_count": 9})
    alice = as_user("alice")
    claimed = alice.post(f"/api/v1/projects/{project.pk}/queue/claim", {"reason": "count_flag"}, format="json").json()
    submitted = alice.post(f"/api/v1/items/{claimed['id']}/submit",
                           {"lease_token": claimed["lease_token"], "boxes": [], "count": 8}, format="json")
    assert submitted.json()["item_status"] == "submitted"
    flag = CountFlag.objects.get()
    assert (flag.status, flag.reviewed_count, flag.reviewed_at) == ("open", None, None)  # not settled yet

    decided = as_user("bob").post(f"/api/v1/items/{claimed['id']}/review", {"decision": "accept"}, format="json")
    assert decided.status_code == 200, decided.content
    flag.refresh_from_db()
    item = ReviewItem.objects.get()
    assert (flag.status, flag.reviewed_count, flag.reviewed_at) == ("reviewed", 8, item.accepted_at)
    listed = as_user("maria").get(f"/api/v1/cameras/{door().pk}/count-flags").json()["results"][0]
    assert (listed["status"], listed["reviewed_count"], listed["reviewed_at"]) == (
        "reviewed", 8, item.accepted_at.isoformat())
    assert (listed["observed_count"], listed["model_count"]) == (9, 6)


def test_a_rejected_review_leaves_the_flag_open(recent, project):
    project.qa_sample_rate = 1.0
    project.save()
    post_flag("maria", door(), **{"from": iso(recent["start"]), "to": iso(recent["end"]), "observed_count": 9})
    alice = as_user("alice")
    claimed = alice.post(f"/api/v1/projects/{project.pk}/queue/claim", {"reason": "count_flag"}, format="json").json()
    alice.post(f"/api/v1/items/{claimed['id']}/submit",
               {"lease_token": claimed["lease_token"], "boxes": [], "count": 3}, format="json")
    as_user("bob").post(f"/api/v1/items/{claimed['id']}/review", {"decision": "reject", "comment": "recount"},
                        format="json")
    flag = CountFlag.objects.get()
    assert (flag.status, flag.reviewed_count, flag.reviewed_at) == ("open", None, None)


def bad_window_queries() -> list[tuple[str, dict[str, str], str]]:
    now = timezone.now()
    hour = dt.timedelta(hours=1)
    return [
        ("missing to", {"from": iso(now - hour)}, "invalid"),
        ("naive time", {"from": "2026-11-20T08:00:00", "to": "2026-11-20T09:00:00"}, "invalid"),
        ("not a time", {"from": "yesterday", "to": iso(now)}, "invalid"),
        ("to before from", {"from": iso(now - hour), "to": iso(now - 2 * hour)}, "invalid_window"),
        ("over 6 hours", {"from": iso(now - 8 * hour), "to": iso(now - hour)}, "window_too_long"),
        ("in the future", {"from": iso(now), "to": iso(now + hour)}, "window_in_future"),
    ]


@pytest.mark.parametrize("case", range(len(bad_window_queries())), ids=[c[0] for c in bad_window_queries()])
def test_bad_window_query_is_400_with_the_error_shape(project, case):
    _, params, code = bad_window_queries()[case]
    response = as_user("maria").get(f"/api/v1/cameras/{door().pk}/counts/window", params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code and "message" in response.json()["error"]


@pytest.mark.parametrize(("name", "status"), [("maria", 404), ("charlie", 404), ("eve", 404),
                                              (None, 401)])
def test_window_count_outside_the_callers_sites_or_project_is_refused(recent, name, status):
    response = as_user(name).get(f"/api/v1/cameras/{bus_door().pk}/counts/window",
                                 {"from": iso(recent["start"]), "to": iso(recent["end"])})
    assert response.status_code == status


def test_annotators_may_not_ask_for_a_flag_window(recent):
    response = as_user("alice").get(f"/api/v1/cameras/{door().pk}/counts/window",
                                    {"from": iso(recent["start"]), "to": iso(recent["end"])})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("body", "field"), [
    ({"observed_count": "many"}, "observed_count"),
    ({"observed_count": 1_000_001}, "observed_count"),
    ({"observed_count": 2.5}, "observed_count"),
    ({"observed_count": 3, "note": None}, "note"),
    ({"observed_count": 3, "from": None}, "from"),
])
def test_more_bad_flags_name_the_field_and_store_nothing(recent, body, field):
    window = {"from": iso(recent["start"]), "to": iso(recent["end"])}
    response = post_flag("maria", door(), **(window | body))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]
    assert not CountFlag.objects.exists() and not ReviewItem.objects.exists()


def test_a_count_flag_items_context_costs_two_queries_whatever_its_frames(straddling, django_assert_num_queries):
    post_flag("maria", door(), **{"from": iso(straddling["start"]), "to": iso(straddling["end"]),
                                  "observed_count": 40})
    item = ReviewItem.objects.get()
    for seed in range(5):
        frame_event(door(), straddling["start"] + dt.timedelta(minutes=10 + seed), 1, asset_seed=f"more-{seed}")
    with django_assert_num_queries(2):  # the flag with its author and camera, then the window's frames/clips
        context = flags.review_context(item=item)
    assert context is not None and len(context["assets"]) == 7
