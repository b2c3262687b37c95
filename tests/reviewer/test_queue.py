"""Claim queue, leases, submit and QA through the API (API.md, "People")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotations.models import Annotation, AuditEvent
from reviewer.models import ReviewItem
from tests.factories import add_member, as_user, make_items, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = make_project("store-counts")
    project.qa_sample_rate = 0.0
    project.save()
    add_member(project, "alice", "annotator")
    add_member(project, "bob", "reviewer")
    add_member(project, "dana", "admin")
    User.objects.create_user("charlie", password="pw-123456")
    return project


def claim(name: str, project, **body):
    return as_user(name).post(f"/api/v1/projects/{project.pk}/queue/claim", body, format="json")


BOX = {"label": "person", "box": [12.0, 22.0, 30.0, 60.0]}


def submit(name: str, item_id: int, token: str, **extra):
    body = {"lease_token": token, "boxes": [BOX], "verdict": "correct", **extra}
    return as_user(name).post(f"/api/v1/items/{item_id}/submit", body, format="json")


def test_claim_leases_the_highest_priority_item_with_its_prelabel(project):
    items = make_items(project, 3)
    response = claim("alice", project)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == items[0].pk
    assert body["lease_token"] and body["lease_expires_at"]
    assert body["prelabel"]["boxes"][0]["label"] == "person"
    assert body["asset"]["url"].startswith("/api/v1/assets/")
    assert body["score_parts"] == {"least_confidence": 0.6}
    item = ReviewItem.objects.get(pk=items[0].pk)
    assert (item.status, item.lease_holder.username) == ("leased", "alice")
    assert AuditEvent.objects.filter(action="item.leased", object_id=str(item.pk)).exists()
    assert claim("alice", project, prefetch=True).json()["id"] == items[1].pk  # the next one, claimed ahead


def test_claim_returns_204_when_nothing_is_left(project):
    assert claim("alice", project).status_code == 204


def test_claim_filters_by_reason(project):
    make_items(project, 2)
    disputed = make_items(project, 1, reason="disputed")[0]
    assert claim("alice", project, reason="disputed").json()["id"] == disputed.pk


def test_expired_lease_returns_to_the_queue_without_a_sweeper(project):
    item = make_items(project, 1)[0]
    first = claim("alice", project).json()
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    add_member(project, "erin", "annotator")
    second = claim("erin", project).json()
    assert second["id"] == item.pk and second["lease_token"] != first["lease_token"]
    # The late submit is refused and stores nothing; the new holder's work stands.
    late = submit("alice", item.pk, first["lease_token"])
    assert late.status_code == 409 and late.json()["error"]["code"] == "lease_lost"
    assert submit("erin", item.pk, second["lease_token"]).status_code == 201
    assert list(Annotation.objects.values_list("author__username", flat=True)) == ["erin"]


def test_submit_stores_a_version_with_its_diff_and_accepts(project):
    item = make_items(project, 1)[0]
    token = claim("alice", project).json()["lease_token"]
    response = submit("alice", item.pk, token, count=2, note="<script>alert(1)</script>")
    assert response.status_code == 201, response.content
    annotation = Annotation.objects.get()
    assert annotation.version == 1 and annotation.source_prediction == item.prediction
    # The 0.4 pre-label is below the project's 0.5 threshold: a suggestion, which the person accepted.
    assert annotation.diff["suggestions_accepted"] == 1 and annotation.diff["added"] == 0
    assert annotation.note == "<script>alert(1)</script>"  # stored as text; JSON escapes it on the way out
    assert response.json()["item_status"] == "accepted"
    history = as_user("bob").get(f"/api/v1/items/{item.pk}/history").json()
    assert [v["version"] for v in history["versions"]] == [1]
    assert history["versions"][0]["note"] == "<script>alert(1)</script>"
    assert [e["action"] for e in history["events"]] == ["item.leased", "item.submitted"]
    assert history["item"]["lease_token"] == ""


def test_operator_records_the_true_count_and_the_wrong_tracks_of_a_dispute(project):
    item = make_items(project, 1, reason="disputed")[0]
    token = claim("alice", project, reason="disputed").json()["lease_token"]
    response = submit("alice", item.pk, token, count=5, wrong_tracks=[7, 3, 7], verdict="correct")
    assert response.status_code == 201
    annotation = Annotation.objects.get()
    assert annotation.count == 5 and annotation.diff["wrong_tracks"] == [3, 7]


def test_audit_events_carry_the_request_id(project):
    make_items(project, 1)
    client = as_user("alice")
    response = client.post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json",
                           HTTP_X_REQUEST_ID="req-abcdef12")
    assert response["X-Request-ID"] == "req-abcdef12"
    assert AuditEvent.objects.get(action="item.leased").request_id == "req-abcdef12"


def test_retried_submit_stores_one_version(project):
    item = make_items(project, 1)[0]
    token = claim("alice", project).json()["lease_token"]
    assert submit("alice", item.pk, token).status_code == 201
    retry = submit("alice", item.pk, token)
    assert retry.status_code == 200
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_submit_with_a_wrong_lease_token_is_409_or_400_and_stores_nothing(project, token):
    item = make_items(project, 1)[0]
    claim("alice", project)
    response = submit("alice", item.pk, token)
    assert response.status_code == (409 if token else 400)
    assert Annotation.objects.count() == 0


@pytest.mark.parametrize(("box", "field"), [
    ({"label": "person", "box": [400.0, 10.0, 20.0, 20.0]}, "outside"),
    ({"label": "person", "box": [10.0, 10.0, 0.0, 20.0]}, "size"),
    ({"label": "person", "box": [10.0, 10.0, 20.0, -3.0]}, "size"),
    ({"label": "dog", "box": [10.0, 10.0, 20.0, 20.0]}, "label"),
    ({"label": "person", "box": [10.0, 10.0, 20.0, 20.0], "frame_index": 5}, "frame_index"),
])
def test_bad_boxes_are_400_and_store_nothing(project, box, field):
    item = make_items(project, 1)[0]
    token = claim("alice", project).json()["lease_token"]
    response = as_user("alice").post(f"/api/v1/items/{item.pk}/submit",
                                     {"lease_token": token, "boxes": [box]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in str(response.json()["error"]["details"])
    assert Annotation.objects.count() == 0
    assert ReviewItem.objects.get(pk=item.pk).status == "leased"


def test_heartbeat_extends_and_release_returns_the_item(project):
    item = make_items(project, 1)[0]
    body = claim("alice", project).json()
    beat = as_user("alice").post(f"/api/v1/items/{item.pk}/heartbeat", {"lease_token": body["lease_token"]},
                                 format="json")
    assert beat.status_code == 200
    released = as_user("alice").post(f"/api/v1/items/{item.pk}/release", {"lease_token": body["lease_token"]},
                                     format="json")
    assert released.status_code == 204
    assert ReviewItem.objects.get(pk=item.pk).status == "pending"
    again = as_user("alice").post(f"/api/v1/items/{item.pk}/heartbeat", {"lease_token": body["lease_token"]},
                                  format="json")
    assert again.status_code == 409


def test_consensus_item_is_served_to_k_different_annotators_and_agreement_decides(project):
    add_member(project, "erin", "annotator")
    item = make_items(project, 1, overlap=2)[0]
    token = claim("alice", project).json()["lease_token"]
    assert submit("alice", item.pk, token).json()["item_status"] == "pending"
    assert claim("alice", project).status_code == 204  # never an item the caller already annotated
    token = claim("erin", project).json()["lease_token"]
    far = {"label": "person", "box": [200.0, 100.0, 30.0, 60.0]}
    result = as_user("erin").post(f"/api/v1/items/{item.pk}/submit", {"lease_token": token, "boxes": [far]},
                                  format="json")
    assert result.json()["item_status"] == "submitted"  # low agreement goes to QA
    assert ReviewItem.objects.get(pk=item.pk).agreement == 0.0


def test_an_agreeing_round_of_three_is_accepted_as_their_consensus_and_the_dataset_takes_it(project):
    """A2I-style consolidation: a box a majority drew is kept at the median of theirs, one annotator's stray
    box is dropped, a box only one annotator missed is kept; the consensus version has no author."""
    from django.db import transaction

    from activelearning.datasets.models import DatasetEntry
    from activelearning.training.threshold import freeze_dataset

    for name in ("erin", "finn"):
        add_member(project, name, "annotator")
    item = make_items(project, 1, overlap=3)[0]
    door = lambda dx: {"label": "person", "box": [10.0 + dx, 20.0, 30.0, 60.0]}  # noqa: E731
    till = lambda dx: {"label": "person", "box": [120.0 + dx, 40.0, 28.0, 56.0]}  # noqa: E731
    shelf = lambda dx: {"label": "person", "box": [200.0 + dx, 10.0, 20.0, 30.0]}  # noqa: E731
    stray = {"label": "person", "box": [300.0, 200.0, 20.0, 20.0]}
    rounds = {"alice": [door(0), till(0), shelf(0), stray], "erin": [door(2), till(1), shelf(2)],
              "finn": [door(4), till(3)]}  # agreement (0.857 + 0.667 + 0.8) / 3 = 0.77: accepted
    for name, boxes in rounds.items():
        token = claim(name, project).json()["lease_token"]
        status = as_user(name).post(f"/api/v1/items/{item.pk}/submit", {"lease_token": token, "boxes": boxes},
                                    format="json").json()["item_status"]
    assert status == "accepted"
    consensus = Annotation.objects.filter(review_item_id=item.pk).order_by("-version").first()
    assert consensus.origin == "consensus" and consensus.author is None and consensus.version == 4
    assert consensus.boxes == [{"label": "person", "box": [201.0, 10.0, 20.0, 30.0]},  # finn missed it: 2 of 3
                               {"label": "person", "box": [12.0, 20.0, 30.0, 60.0]},
                               {"label": "person", "box": [121.0, 40.0, 28.0, 56.0]}]  # the stray one is gone
    assert consensus.diff == {"consensus_of": [1, 2, 3], "votes": [2, 3, 3]}
    history = as_user("bob").get(f"/api/v1/items/{item.pk}/history").json()["versions"]
    assert [(v["origin"], v["author__username"]) for v in history] == [
        ("person", "alice"), ("person", "erin"), ("person", "finn"), ("consensus", None)]
    project.retrain_threshold = 0
    project.save()
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    assert DatasetEntry.objects.get(dataset_version=version).annotation_id == consensus.pk


def test_qa_reject_returns_the_item_with_the_comment_and_accept_accepts(project):
    project.qa_sample_rate = 1.0
    project.save()
    add_member(project, "erin", "annotator")
    item = make_items(project, 1)[0]
    token = claim("alice", project).json()["lease_token"]
    assert submit("alice", item.pk, token).json()["item_status"] == "submitted"
    rejected = as_user("bob").post(f"/api/v1/items/{item.pk}/review",
                                   {"decision": "reject", "comment": "missed the child by the door"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "pending"
    assert claim("erin", project).status_code == 204  # rejected work waits for its author first
    served = claim("alice", project).json()
    assert served["last_comment"] == "missed the child by the door"
    assert served["rework"]["comment"] == "missed the child by the door"
    submit("alice", item.pk, served["lease_token"])
    accepted = as_user("bob").post(f"/api/v1/items/{item.pk}/review", {"decision": "accept"}, format="json")
    assert accepted.json()["status"] == "accepted"
    again = as_user("bob").post(f"/api/v1/items/{item.pk}/review", {"decision": "accept"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_awaiting_review"


def test_reject_needs_a_comment(project):
    item = make_items(project, 1)[0]
    response = as_user("bob").post(f"/api/v1/items/{item.pk}/review", {"decision": "reject"}, format="json")
    assert response.status_code == 400


def test_annotator_cannot_review_403(project):
    item = make_items(project, 1)[0]
    response = as_user("alice").post(f"/api/v1/items/{item.pk}/review", {"decision": "accept"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_outsider_gets_404_everywhere(project):
    item = make_items(project, 1)[0]
    other = make_project("bus-boarding")
    add_member(other, "charlie", "annotator")
    assert claim("charlie", project).status_code == 404
    for path, body in [("heartbeat", {"lease_token": "x"}), ("release", {"lease_token": "x"}),
                       ("submit", {"lease_token": "x", "boxes": []}), ("review", {"decision": "accept"})]:
        response = as_user("charlie").post(f"/api/v1/items/{item.pk}/{path}", body, format="json")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert as_user("charlie").get(f"/api/v1/items/{item.pk}/history").status_code == 404
    assert as_user("charlie").get("/api/v1/items/999999/history").status_code == 404  # same answer: no leak


def test_operator_only_claims_items_of_their_sites(project):
    from annotations.models import Site

    depot = Site.objects.create(project=project, name="Depot North")
    other = Site.objects.create(project=project, name="Route 42")
    make_items(project, 2, site=other)
    mine = make_items(project, 1, site=depot)[0]
    add_member(project, "olga", "operator", sites=[depot])
    assert claim("olga", project).json()["id"] == mine.pk
    assert claim("olga", project, prefetch=True).status_code == 204


def test_session_post_without_csrf_is_403(project):
    from django.test import Client

    make_items(project, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="alice"))
    response = client.post(f"/api/v1/projects/{project.pk}/queue/claim", {}, content_type="application/json")
    assert response.status_code == 403
    assert ReviewItem.objects.filter(status="leased").count() == 0


def test_claim_makes_a_constant_number_of_queries(project, django_assert_max_num_queries):
    make_items(project, 50)
    with django_assert_max_num_queries(12):
        assert claim("alice", project).status_code == 200


@pytest.mark.parametrize(("raw", "code", "field"), [
    (b'{"lease_token": "t", "boxes": [', "malformed_json", "reason"),
    (b'{"lease_token": "t", "boxes": "none"}', "invalid", "boxes"),
    (b'{"lease_token": "t", "boxes": [{"label": "person", "box": [1, 2, 3]}]}', "invalid", "boxes[0].box"),
    (b'{"lease_token": "t", "boxes": [{"label": "person", "box": [1, 2, 1e999, 4]}]}', "invalid", "boxes[0].box[2]"),
    (b'{"lease_token": "t", "boxes": [], "verdict": "maybe"}', "invalid", "verdict"),
    (b'{"lease_token": "t", "boxes": [], "count": -1}', "invalid", "count"),
    (b'{"boxes": []}', "invalid", "lease_token"),
])
def test_malformed_submit_bodies_are_400_with_the_field_and_store_nothing(project, raw, code, field):
    item = make_items(project, 1)[0]
    claim("alice", project)
    response = as_user("alice").post(f"/api/v1/items/{item.pk}/submit", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert field in str(response.json()["error"]["details"])
    assert Annotation.objects.count() == 0
    assert ReviewItem.objects.get(pk=item.pk).status == "leased"


@pytest.mark.parametrize("body", [{"reason": "nonsense"}, {"site": 0}, {"site": "x"}])
def test_claim_filters_are_validated(project, body):
    make_items(project, 1)
    response = claim("alice", project, **body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert ReviewItem.objects.filter(status="leased").count() == 0


def test_a_box_past_the_image_edge_is_clipped_and_one_outside_it_is_refused(project):
    """The submit API follows device ingest's rule (annotations.geometry.clip_to_image), so every export agrees:
    the factory's frames are 320×240."""
    item = make_items(project, 1)[0]
    served = claim("alice", project).json()
    outside = {"label": "person", "box": [330.0, 10.0, 40.0, 40.0]}
    refused = submit("alice", item.pk, served["lease_token"], boxes=[BOX, outside])
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["code"] == "invalid" and error["details"]["boxes"] == {"1": "entirely outside the frame"}
    assert not Annotation.objects.exists()  # nothing stored; the lease is still hers
    past_edge = {"label": "person", "box": [300.5, 200.0, 98.4, 183.3]}
    stored = submit("alice", item.pk, served["lease_token"], boxes=[BOX, past_edge])
    assert stored.status_code == 201, stored.content
    assert Annotation.objects.get().boxes == [BOX, {"label": "person", "box": [300.5, 200.0, 19.5, 40.0]}]
