"""Work comes back to its owner and nothing piles up (DESIGN.md, "Review"): a reload gets the person's own
item back, at most one prefetched item per person with a short lease, skip moves on and remembers, rejected
work goes back to its author starting from the rejected version.

These run on PostgreSQL in CI and on SQLite too (tests/test_sqlite_mode.py): the claim statement differs.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from annotations.models import Annotation, AuditEvent
from reviewer.models import ItemSkip, ItemStatus, ReviewItem
from tests.factories import add_member, as_user, make_items, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = make_project("store-counts")
    project.qa_sample_rate = 0.0
    project.save()
    add_member(project, "alice", "annotator")
    add_member(project, "erin", "annotator")
    add_member(project, "bob", "reviewer")
    return project


def claim(name: str, project, **body) -> dict | None:
    response = as_user(name).post(f"/api/v1/projects/{project.pk}/queue/claim", body, format="json")
    assert response.status_code in (200, 204), response.content
    return response.json() if response.status_code == 200 else None


def held_by(name: str) -> list[ReviewItem]:
    return list(ReviewItem.objects.filter(status=ItemStatus.LEASED, lease_holder__username=name).order_by("id"))


def submit(name: str, served: dict, boxes: list[dict] | None = None, **extra) -> dict:
    body = {"lease_token": served["lease_token"], "verdict": "correct", **extra}
    body["boxes"] = boxes if boxes is not None else [{"label": "person", "box": [12, 22, 30, 60]}]
    response = as_user(name).post(f"/api/v1/items/{served['id']}/submit", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- reloads and prefetch -------------------------------------------------------------------------------

def test_a_reload_gets_the_same_item_back_and_holds_one_lease(project):
    make_items(project, 5)
    first = claim("alice", project)
    again = claim("alice", project)  # the tab reloaded: the same claim again
    assert again["id"] == first["id"] and again["resumed"] is True and first["resumed"] is False
    assert again["lease_token"] != first["lease_token"]  # the old tab's token is fenced off
    assert [i.pk for i in held_by("alice")] == [first["id"]]
    assert AuditEvent.objects.filter(action="item.leased", object_id=str(first["id"])).count() == 2


def test_at_most_one_prefetched_item_with_a_short_lease(project, settings):
    make_items(project, 5)
    current = claim("alice", project)
    ahead = claim("alice", project, prefetch=True)
    ahead_again = claim("alice", project, prefetch=True)  # a reload prefetches again
    assert ahead["id"] != current["id"] and ahead_again["id"] == ahead["id"] and ahead["prefetch"] is True
    assert {i.pk for i in held_by("alice")} == {current["id"], ahead["id"]}
    short = ReviewItem.objects.get(pk=ahead["id"])
    assert short.lease_prefetch is True
    assert short.lease_expires_at <= timezone.now() + dt.timedelta(seconds=settings.LOUPE_PREFETCH_LEASE_SECONDS + 5)
    # Reload after reload: still the same two.
    for _ in range(3):
        claim("alice", project)
        claim("alice", project, prefetch=True)
    assert {i.pk for i in held_by("alice")} == {current["id"], ahead["id"]}


def test_a_prefetched_item_on_screen_is_promoted_by_its_heartbeat(project, settings):
    make_items(project, 3)
    current = claim("alice", project)
    ahead = claim("alice", project, prefetch=True)
    submit("alice", current)
    beat = as_user("alice").post(f"/api/v1/items/{ahead['id']}/heartbeat",
                                 {"lease_token": ahead["lease_token"], "prefetch": False}, format="json")
    assert beat.status_code == 200
    promoted = ReviewItem.objects.get(pk=ahead["id"])
    assert promoted.lease_prefetch is False
    assert promoted.lease_expires_at > timezone.now() + dt.timedelta(seconds=settings.LOUPE_LEASE_SECONDS - 30)
    nxt = claim("alice", project, prefetch=True)
    assert nxt["id"] not in (current["id"], ahead["id"])
    assert {i.pk for i in held_by("alice")} == {ahead["id"], nxt["id"]}


def test_a_plain_claim_takes_over_the_prefetched_item_when_nothing_is_current(project):
    make_items(project, 3)
    current = claim("alice", project)
    ahead = claim("alice", project, prefetch=True)
    submit("alice", current)
    taken = claim("alice", project)  # e.g. the tab closed after submit and came back
    assert taken["id"] == ahead["id"] and taken["prefetch"] is False and taken["resumed"] is True
    assert [i.pk for i in held_by("alice")] == [ahead["id"]]


def test_changing_the_filter_gives_the_old_item_back(project):
    make_items(project, 2, reason="low_confidence")
    make_items(project, 2, reason="ood")
    first = claim("alice", project, reason="low_confidence")
    other = claim("alice", project, reason="ood")
    assert other["id"] != first["id"]
    assert [i.pk for i in held_by("alice")] == [other["id"]]
    assert ReviewItem.objects.get(pk=first["id"]).status == ItemStatus.PENDING
    assert AuditEvent.objects.filter(action="item.released", object_id=str(first["id"])).exists()


# --- skip -----------------------------------------------------------------------------------------------

def test_skip_moves_on_remembers_why_and_gives_the_item_to_someone_else(project):
    make_items(project, 3)
    served = [claim("alice", project)]
    for _ in range(2):
        current = served[-1]
        response = as_user("alice").post(f"/api/v1/items/{current['id']}/skip",
                                         {"lease_token": current["lease_token"], "reason": "can't tell"},
                                         format="json")
        assert response.status_code == 204
        served.append(claim("alice", project))
    assert len({s["id"] for s in served}) == 3, "skip never hands back a skipped item"
    assert ItemSkip.objects.filter(user__username="alice", reason="can't tell").count() == 2
    assert AuditEvent.objects.filter(action="item.skipped").count() == 2
    # The two skipped items go to someone else, best first.
    erin = claim("erin", project)
    assert erin["id"] == served[0]["id"]


def test_skipping_everything_empties_the_queue_for_that_person_until_the_memory_fades(project, settings):
    make_items(project, 2)
    for _ in range(2):
        current = claim("alice", project)
        as_user("alice").post(f"/api/v1/items/{current['id']}/skip", {"lease_token": current["lease_token"]},
                              format="json")
    assert claim("alice", project) is None
    ItemSkip.objects.update(created_at=timezone.now() - dt.timedelta(seconds=settings.LOUPE_SKIP_MEMORY_SECONDS + 60))
    assert claim("alice", project) is not None


@pytest.mark.parametrize(("body", "field"), [
    ({}, "lease_token"),
    ({"lease_token": "t", "reason": "x" * 201}, "reason"),
    ({"lease_token": "t", "reason": 3}, "reason"),
])
def test_bad_skip_is_400_and_changes_nothing(project, body, field):
    make_items(project, 1)
    current = claim("alice", project)
    response = as_user("alice").post(f"/api/v1/items/{current['id']}/skip", body, format="json")
    assert response.status_code == 400 and field in str(response.json()["error"]["details"])
    assert ReviewItem.objects.get(pk=current["id"]).status == ItemStatus.LEASED
    assert not ItemSkip.objects.exists()


def test_skip_needs_the_live_lease_and_membership(project):
    make_items(project, 1)
    current = claim("alice", project)
    stale = as_user("alice").post(f"/api/v1/items/{current['id']}/skip", {"lease_token": "not-mine"}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "lease_lost"
    add_member(make_project("other"), "charlie", "annotator")
    outsider = as_user("charlie").post(f"/api/v1/items/{current['id']}/skip",
                                       {"lease_token": current["lease_token"]}, format="json")
    assert outsider.status_code == 404
    assert not ItemSkip.objects.exists()


# --- rework ---------------------------------------------------------------------------------------------

def test_rejected_work_goes_back_to_its_author_starting_from_the_rejected_version(project):
    project.qa_sample_rate = 1.0
    project.save()
    make_items(project, 2)
    served = claim("alice", project)
    mine = [{"label": "person", "box": [40, 50, 30, 60]}]
    submit("alice", served, boxes=mine)
    rejected = as_user("bob").post(f"/api/v1/items/{served['id']}/review",
                                   {"decision": "reject", "comment": "box #1 misses the child",
                                    "region": {"box": [40, 50, 30, 60], "frame_index": None}}, format="json")
    assert rejected.status_code == 200
    erin = claim("erin", project)
    assert erin["id"] != served["id"], "the author gets first call on rejected work"
    back = claim("alice", project)
    assert back["id"] == served["id"]
    assert back["rework"]["boxes"] == mine and back["rework"]["comment"] == "box #1 misses the child"
    assert back["rework"]["author"] == "alice" and back["rework"]["region"]["box"] == [40, 50, 30, 60]
    fixed = submit("alice", back, boxes=[*mine, {"label": "person", "box": [100, 50, 20, 40]}])
    item = ReviewItem.objects.get(pk=served["id"])
    assert item.rework_author is None and item.rework_from is None and item.status == ItemStatus.SUBMITTED
    assert Annotation.objects.get(pk=fixed["annotation"]).version == 2


def test_rejected_work_goes_to_the_pool_when_its_author_does_not_come_back(project):
    project.qa_sample_rate = 1.0
    project.save()
    make_items(project, 1)
    served = claim("alice", project)
    submit("alice", served)
    as_user("bob").post(f"/api/v1/items/{served['id']}/review", {"decision": "reject", "comment": "redo"},
                        format="json")
    assert claim("erin", project) is None
    ReviewItem.objects.filter(pk=served["id"]).update(rework_until=timezone.now() - dt.timedelta(hours=1))
    erin = claim("erin", project)
    assert erin["id"] == served["id"] and erin["rework"]["comment"] == "redo"


# --- what a submit stores -------------------------------------------------------------------------------

ELEVEN = [{"label": "person", "score": 0.9 - i * 0.01, "box": [10.0 + 25 * i, 20.0, 20.0, 80.0]} for i in range(11)]


@pytest.fixture
def eleven(project):
    item = make_items(project, 1)[0]
    item.prediction.detections = [*ELEVEN, {"label": "person", "score": 0.3, "box": [5.0, 150.0, 30.0, 60.0]}]
    item.prediction.save(update_fields=["detections"])
    return item


def as_submitted(detections: list[dict]) -> list[dict]:
    return [{"label": d["label"], "box": d["box"], "prelabel_index": i} for i, d in enumerate(detections)]


def test_untouched_prelabels_are_stored(project, eleven):
    served = claim("alice", project)
    result = submit("alice", served, boxes=as_submitted(ELEVEN))
    stored = Annotation.objects.get(pk=result["annotation"])
    assert len(stored.boxes) == 11 and all("prelabel_index" not in b for b in stored.boxes)
    assert {k: stored.diff[k] for k in ("kept", "moved", "deleted", "added", "suggestions_left")} == \
        {"kept": 11, "moved": 0, "deleted": 0, "added": 0, "suggestions_left": 1}


def test_nudging_one_of_eleven_stores_eleven(project, eleven):
    served = claim("alice", project)
    boxes = as_submitted(ELEVEN)
    boxes[3]["box"] = [boxes[3]["box"][0] + 4, 20.0, 20.0, 80.0]
    boxes[5]["label"] = "person"  # unchanged label
    result = submit("alice", served, boxes=boxes)
    stored = Annotation.objects.get(pk=result["annotation"])
    assert len(stored.boxes) == 11
    assert stored.diff["kept"] == 10 and stored.diff["moved"] == 1 and stored.diff["deleted"] == 0
    assert stored.diff["removed"] == 0


def test_model_was_right_stores_the_models_starting_boxes(project, eleven):
    served = claim("alice", project)
    response = as_user("alice").post(f"/api/v1/items/{served['id']}/submit",
                                     {"lease_token": served["lease_token"], "verdict": "confirm"}, format="json")
    assert response.status_code == 201
    stored = Annotation.objects.get(pk=response.json()["annotation"])
    assert [b["box"] for b in stored.boxes] == [d["box"] for d in ELEVEN]  # the 0.3 suggestion is not one
    assert stored.verdict == "confirm" and stored.diff["kept"] == 11 and stored.diff["suggestions_left"] == 1


def test_accepted_suggestions_and_deleted_boxes_are_told_apart(project, eleven):
    served = claim("alice", project)
    boxes = as_submitted([*ELEVEN, eleven.prediction.detections[11]])[1:]  # delete #0, accept the suggestion
    boxes.append({"label": "person", "box": [290, 200, 20, 20]})
    stored = Annotation.objects.get(pk=submit("alice", served, boxes=boxes)["annotation"])
    assert {k: stored.diff[k] for k in ("kept", "deleted", "added", "suggestions_accepted", "suggestions_left")} \
        == {"kept": 10, "deleted": 1, "added": 1, "suggestions_accepted": 1, "suggestions_left": 0}


def test_boxes_without_prelabel_index_are_matched_by_overlap(project, eleven):
    served = claim("alice", project)
    boxes = [{"label": d["label"], "box": d["box"]} for d in ELEVEN]
    stored = Annotation.objects.get(pk=submit("alice", served, boxes=boxes)["annotation"])
    assert stored.diff["kept"] == 11 and stored.diff["added"] == 0


@pytest.mark.parametrize(("boxes", "verdict", "problem"), [
    (None, "correct", "boxes"),
    ([{"label": "person", "box": [1, 1, 5, 5], "prelabel_index": 12}], "correct", "boxes"),
    ([{"label": "person", "box": [1, 1, 5, 5], "prelabel_index": 0},
      {"label": "person", "box": [9, 9, 5, 5], "prelabel_index": 0}], "correct", "boxes"),
    ([{"label": "person", "box": [1, 1, 5, 5], "prelabel_index": -1}], "correct", "boxes"),
])
def test_bad_submit_is_400_and_stores_nothing(project, eleven, boxes, verdict, problem):
    served = claim("alice", project)
    body = {"lease_token": served["lease_token"], "verdict": verdict}
    if boxes is not None:
        body["boxes"] = boxes
    response = as_user("alice").post(f"/api/v1/items/{served['id']}/submit", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert any(key.startswith(problem) for key in response.json()["error"]["details"])
    assert not Annotation.objects.exists()
    assert ReviewItem.objects.get(pk=served["id"]).status == ItemStatus.LEASED
