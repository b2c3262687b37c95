"""QA "fix and accept": the reviewer corrects the submitted boxes in place and accepts; the correction is a new
version authored by the reviewer (origin `review`) that becomes the accepted ground truth, audited before/after.
Bad input stores nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from activelearning.datasets.models import DatasetEntry
from activelearning.training.threshold import freeze_dataset
from annotations.models import Annotation, AnnotationOrigin, AuditEvent, Verdict
from reviewer.models import ItemStatus, ReviewItem
from reviewer.services import decide_review
from tests.factories import add_member, as_user, make_items, make_project

pytestmark = pytest.mark.django_db

SUBMITTED = [{"label": "person", "box": [12, 22, 30, 60]}, {"label": "person", "box": [100, 100, 40, 80]}]
FIXED = [{"label": "person", "box": [14, 22, 30, 70]}, {"label": "person", "box": [200, 50, 30, 60]}]


@pytest.fixture
def project():
    project = make_project("store-counts", classes=("person", "child"))
    project.qa_sample_rate = 1.0  # every submit goes to QA
    project.save()
    add_member(project, "alice", "annotator")
    add_member(project, "bob", "reviewer")
    return project


def submitted_item(project) -> ReviewItem:
    make_items(project, 1)
    served = as_user("alice").post(f"/api/v1/projects/{project.pk}/queue/claim", {}, format="json").json()
    body = {"lease_token": served["lease_token"], "boxes": SUBMITTED, "verdict": "confirm"}
    response = as_user("alice").post(f"/api/v1/items/{served['id']}/submit", body, format="json")
    assert response.json()["item_status"] == "submitted"
    return ReviewItem.objects.get(pk=served["id"])


def review(item: ReviewItem, body: dict, user: str = "bob"):
    return as_user(user).post(f"/api/v1/items/{item.pk}/review", body, format="json")


def test_fix_and_accept_stores_the_reviewers_version_as_the_accepted_ground_truth(project):
    item = submitted_item(project)
    response = review(item, {"decision": "accept", "boxes": FIXED})
    assert response.status_code == 200 and response.json()["status"] == "accepted"

    item.refresh_from_db()
    assert item.status == ItemStatus.ACCEPTED and item.accepted_at is not None
    annotator, fix = Annotation.objects.filter(review_item_id=item.pk).order_by("version")
    assert annotator.author.username == "alice" and annotator.boxes == SUBMITTED  # untouched, append-only
    assert (fix.version, fix.origin, fix.author.username) == (2, AnnotationOrigin.REVIEW, "bob")
    assert fix.boxes == [{"label": "person", "box": [14.0, 22.0, 30.0, 70.0]},
                         {"label": "person", "box": [200.0, 50.0, 30.0, 60.0]}]
    assert fix.verdict == Verdict.CORRECT and fix.source_prediction_id == item.prediction_id
    # vs the annotator's v1: the first box moved, the second was deleted and another added.
    assert {k: fix.diff[k] for k in ("kept", "moved", "added", "removed")} == {"kept": 0, "moved": 1, "added": 1,
                                                                              "removed": 1}
    assert fix.diff["base_version"] == 1
    assert fix.diff["vs_prelabel"] == {"kept": 0, "moved": 1, "added": 1, "removed": 0}

    event = AuditEvent.objects.get(object_type="review_item", object_id=str(item.pk), action="item.accepted")
    assert event.actor.username == "bob"
    assert event.before == {"status": "submitted", "version": 1, "boxes": SUBMITTED}
    assert event.after["status"] == "accepted" and event.after["version"] == 2
    assert event.after["annotation"] == fix.pk and event.after["boxes"] == fix.boxes

    # The dataset takes the reviewer's version.
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    assert DatasetEntry.objects.get(dataset_version=version).annotation_id == fix.pk


def test_accept_without_boxes_stores_no_new_version(project):
    item = submitted_item(project)
    assert review(item, {"decision": "accept"}).status_code == 200
    assert Annotation.objects.filter(review_item_id=item.pk).count() == 1
    event = AuditEvent.objects.get(object_type="review_item", object_id=str(item.pk), action="item.accepted")
    assert event.after == {"status": "accepted", "comment": ""}


def test_fixing_to_no_boxes_is_a_fix(project):
    item = submitted_item(project)
    assert review(item, {"decision": "accept", "boxes": []}).status_code == 200
    fix = Annotation.objects.get(review_item_id=item.pk, origin=AnnotationOrigin.REVIEW)
    assert fix.boxes == [] and fix.diff["removed"] == 2


@pytest.mark.parametrize("body, field", [
    ({"decision": "reject", "comment": "redo", "boxes": FIXED}, "boxes"),
    ({"decision": "reject", "comment": "redo", "boxes": []}, "boxes"),
    ({"decision": "accept", "boxes": [{"label": "dog", "box": [1, 1, 5, 5]}]}, "boxes"),
    ({"decision": "accept", "boxes": [{"label": "person", "box": [400, 10, 20, 20]}]}, "boxes"),
    ({"decision": "accept", "boxes": [{"label": "person", "box": [10, 10, 0, 20]}]}, "boxes"),
    ({"decision": "accept", "boxes": [{"label": "person", "box": [10, 10, 20]}]}, "boxes"),
    ({"decision": "accept", "boxes": [{"label": "person", "box": [10, 10, 20, 20], "frame_index": 3}]}, "boxes"),
    ({"decision": "accept", "boxes": [{"label": "", "box": [10, 10, 20, 20]}]}, "boxes"),
    ({"decision": "accept", "boxes": [{"box": [10, 10, 20, 20]}]}, "boxes"),
    ({"decision": "accept", "boxes": "all of them"}, "boxes"),
    ({"decision": "accept", "boxes": [{"label": "person", "box": [1, 1, 5, 5]}] * 2001}, "boxes"),
])
def test_bad_fix_is_400_and_nothing_is_stored(project, body, field):
    item = submitted_item(project)
    response = review(item, body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]
    item.refresh_from_db()
    assert item.status == ItemStatus.SUBMITTED
    assert Annotation.objects.filter(review_item_id=item.pk).count() == 1
    assert not AuditEvent.objects.filter(action__in=["item.accepted", "item.rejected"]).exists()


def test_unknown_label_names_the_box(project):
    item = submitted_item(project)
    response = review(item, {"decision": "accept", "boxes": [FIXED[0], {"label": "dog", "box": [1, 1, 5, 5]}]})
    assert response.json()["error"]["details"] == {"boxes": {"1": "unknown label 'dog'"}}


def test_a_second_decision_is_409_and_stores_nothing(project):
    item = submitted_item(project)
    assert review(item, {"decision": "accept", "boxes": FIXED}).status_code == 200
    again = review(item, {"decision": "accept", "boxes": SUBMITTED})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_awaiting_review"
    assert Annotation.objects.filter(review_item_id=item.pk).count() == 2


def test_annotator_gets_403_and_outsider_404_for_a_fix(project):
    item = submitted_item(project)
    response = review(item, {"decision": "accept", "boxes": FIXED}, user="alice")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    other = make_project("bus-boarding")
    add_member(other, "charlie", "reviewer")
    response = review(item, {"decision": "accept", "boxes": FIXED}, user="charlie")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Annotation.objects.filter(review_item_id=item.pk).count() == 1
    assert ReviewItem.objects.get(pk=item.pk).status == ItemStatus.SUBMITTED


def test_the_service_keeps_the_next_version_number_per_asset(project):
    item = submitted_item(project)
    fixed = decide_review(item=item, user=User.objects.get(username="bob"), decision="accept", comment="",
                          boxes=FIXED)
    assert fixed.status == ItemStatus.ACCEPTED
    assert list(Annotation.objects.filter(asset_id=item.asset_id).order_by("version")
                .values_list("version", "origin")) == [(1, "person"), (2, "review")]


def test_a_fix_past_the_image_edge_is_clipped_and_one_outside_it_is_refused(project):
    item = submitted_item(project)  # a 320×240 frame
    response = review(item, {"decision": "accept", "boxes": [{"label": "person", "box": [-20, 300, 30, 30]}]})
    assert response.status_code == 400 and response.json()["error"]["details"] == {
        "boxes": {"0": "entirely outside the frame"}}
    assert ReviewItem.objects.get(pk=item.pk).status == ItemStatus.SUBMITTED
    assert Annotation.objects.filter(review_item_id=item.pk).count() == 1  # nothing stored
    response = review(item, {"decision": "accept", "boxes": [{"label": "person", "box": [-20, 200, 60, 60]}]})
    assert response.status_code == 200, response.content
    fix = Annotation.objects.filter(review_item_id=item.pk).order_by("version").last()
    assert fix.boxes == [{"label": "person", "box": [0.0, 200.0, 40.0, 40.0]}]
