"""The lists the browser app navigates by: QA's items awaiting review, the cameras a person may see counts
for, and rejection comments pinned to a region of the frame."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotations.models import AuditEvent, Camera, Site
from reviewer.models import CountFlag, ItemStatus, ReviewItem
from tests.factories import add_member, as_user, make_items, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = make_project("store-counts")
    project.qa_sample_rate = 1.0  # every submit goes to QA
    project.save()
    add_member(project, "alice", "annotator")
    add_member(project, "bob", "reviewer")
    add_member(project, "dana", "admin")
    return project


def claim_and_submit(name: str, project) -> int:
    served = as_user(name).post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json").json()
    body = {"lease_token": served["lease_token"], "boxes": [{"label": "person", "box": [12, 22, 30, 60]}],
            "verdict": "correct"}
    assert as_user(name).post(f"/api/v1/items/{served['id']}/submit", body, format="json").status_code == 201
    return served["id"]


def test_reviewer_lists_items_awaiting_review_with_their_latest_version(project, django_assert_num_queries):
    make_items(project, 5)
    submitted = [claim_and_submit("alice", project) for _ in range(3)]
    url = f"/api/v1/projects/{project.pk}/items/"
    client = as_user("bob")
    with django_assert_num_queries(2):  # the membership, then the list with each latest version
        response = client.get(url)
    assert response.status_code == 200
    rows = response.json()
    assert sorted(r["id"] for r in rows) == sorted(submitted)
    first = rows[0]
    assert first["status"] == "submitted" and first["latest"]["author"] == "alice"
    assert first["latest"]["version"] == 1 and first["asset"]["thumb_url"].endswith("/thumb.jpg")
    assert first["site"]["name"] == "Main St"
    # More items do not mean more queries.
    make_items(project, 4)
    for _ in range(4):
        claim_and_submit("alice", project)
    with django_assert_num_queries(2):
        assert len(client.get(url).json()) == 7
    pending = client.get(url, {"status": "pending", "ordering": "-priority"}).json()
    assert [r["status"] for r in pending] == ["pending"] * 2
    assert pending[0]["priority"] >= pending[1]["priority"] and pending[0]["latest"] is None
    assert len(client.get(url, {"limit": 2}).json()) == 2


def test_item_list_refuses_foreign_orderings_unknown_filters_and_non_reviewers(project):
    url = f"/api/v1/projects/{project.pk}/items/"
    for params in ({"ordering": "annotator__password"}, {"ordering": "lease_holder__password"},
                   {"status": "everything"}, {"limit": 0}, {"limit": 10_000}, {"site": "x"}):
        response = as_user("bob").get(url, params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] in {"invalid", "invalid_filter", "invalid_ordering"}
    unknown = as_user("bob").get(url, {"lease_holder__username": "alice"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid_filter"
    assert as_user("alice").get(url).status_code == 403
    other = make_project("bus-boarding")
    add_member(other, "olga", "reviewer")
    assert as_user("olga").get(url).status_code == 404


def test_cameras_list_is_scoped_to_a_managers_sites(project, django_assert_max_num_queries):
    main, north = Site.objects.create(project=project, name="Main St"), Site.objects.create(project=project,
                                                                                          name="North")
    door = Camera.objects.create(site=main, name="door-1")
    Camera.objects.create(site=main, name="till-2")
    Camera.objects.create(site=north, name="door-1")
    add_member(project, "mia", "manager", sites=[main])
    item = make_items(project, 1, site=main)[0]
    item.reason = "count_flag"
    item.save()
    now = timezone.now()
    CountFlag.objects.create(project=project, camera=door, flagged_by=User.objects.get(username="mia"),
                             window_start=now - dt.timedelta(hours=1), window_end=now, observed_count=4,
                             model_count=2, review_item=item)
    url = f"/api/v1/projects/{project.pk}/cameras/"
    with django_assert_max_num_queries(3):
        mine = as_user("mia").get(url).json()
    assert [(c["site"]["name"], c["name"]) for c in mine] == [("Main St", "door-1"), ("Main St", "till-2")]
    assert [c["open_flags"] for c in mine] == [1, 0]
    everything = as_user("dana").get(url).json()
    assert [(c["site"]["name"], c["name"]) for c in everything] == [
        ("Main St", "door-1"), ("Main St", "till-2"), ("North", "door-1")]
    other = make_project("bus-boarding")
    add_member(other, "olga", "operator")
    assert as_user("olga").get(url).status_code == 404


def test_rejection_pinned_to_a_region_reaches_the_author_and_then_the_next_annotator(project):
    make_items(project, 1)
    item_id = claim_and_submit("alice", project)
    region = {"box": [40, 50, 20, 30], "frame_index": None}
    rejected = as_user("bob").post(f"/api/v1/items/{item_id}/review",
                                   {"decision": "reject", "comment": "<b>the child</b> by the door",
                                    "region": region}, format="json")
    assert rejected.status_code == 200
    served = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json").json()
    assert served["id"] == item_id and served["rework"]["region"]["box"] == [40.0, 50.0, 20.0, 30.0]
    as_user("alice").post(f"/api/v1/items/{item_id}/release", {"lease_token": served["lease_token"]}, format="json")
    ReviewItem.objects.filter(pk=item_id).update(rework_until=timezone.now() - dt.timedelta(hours=1))  # the hold ran out
    add_member(project, "erin", "annotator")
    served = as_user("erin").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json").json()
    assert served["id"] == item_id
    assert served["last_comment"] == "<b>the child</b> by the door"  # text, the app renders it as text
    assert served["last_comment_region"] == {"box": [40.0, 50.0, 20.0, 30.0], "frame_index": None}
    event = AuditEvent.objects.filter(action="item.rejected").get()
    assert event.after["region"]["box"] == [40.0, 50.0, 20.0, 30.0]
    history = as_user("bob").get(f"/api/v1/items/{item_id}/history").json()
    assert history["item"]["last_comment_region"]["box"] == [40.0, 50.0, 20.0, 30.0]


@pytest.mark.parametrize("region, problem", [
    ({"box": [400, 10, 20, 20]}, "entirely outside the frame"),  # the frame is 320×240
    ({"box": [10, 10, 0, 20]}, "zero or negative size"),
    ({"box": [10, 10, 20, 20], "frame_index": 3}, "frame_index beyond the clip"),
])
def test_a_region_off_the_frame_is_refused_and_nothing_changes(project, region, problem):
    make_items(project, 1)
    item_id = claim_and_submit("alice", project)
    response = as_user("bob").post(f"/api/v1/items/{item_id}/review",
                                   {"decision": "reject", "comment": "see here", "region": region}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["region"] == problem
    assert ReviewItem.objects.get(pk=item_id).status == ItemStatus.SUBMITTED


def test_a_malformed_region_is_400(project):
    make_items(project, 1)
    item_id = claim_and_submit("alice", project)
    for region in ({"box": [1, 2, 3]}, {"box": "here"}, {"frame_index": 0}, {"box": [1, 2, 3, 4], "frame_index": -1}):
        response = as_user("bob").post(f"/api/v1/items/{item_id}/review",
                                       {"decision": "reject", "comment": "x", "region": region}, format="json")
        assert response.status_code == 400, region
