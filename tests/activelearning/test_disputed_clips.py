"""A dispute is queued as `disputed` and stays so after the server pre-label (issue 13, defect 4), the claim
shows both sides of it, and the clip reviewer can ask the server model about any frame of the clip."""

from __future__ import annotations

import hashlib

import pytest

from activelearning.registry.models import PrelabelRun, PrelabelStatus
from annotations.models import Prediction, PredictionSource, Site
from reviewer.models import ReviewItem
from tests.activelearning.test_prelabeling import install_champion
from tests.clips import FRAMES, numbered_clip
from tests.factories import add_member, as_user, jpeg_bytes, make_device_kit, make_project, prediction_event
from tests.onnx_models import fixed_detector_bytes

# Items are pre-labeled after the ingest transaction commits (on_commit), so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def kit():
    return make_device_kit(make_project("bus-boarding"), site="Route 42", camera="bus-door")


def send(kit, events):
    response = kit.post_events(events)
    assert response.status_code == 200, response.content
    return [r for r in response.json()["results"]]


def upload_clip(kit) -> str:
    body = numbered_clip()
    sha = hashlib.sha256(body).hexdigest()
    assert kit.put_media(body, "video/mp4").status_code in (200, 201)
    return sha


def dispute(event_id: str, sha: str, *, ticketing: int, camera_count: int) -> dict[str, object]:
    """A dispute as the seeded bus fleet sends it: the ticket machine's count, the camera's in the context."""
    return {"id": event_id, "type": "dispute", "captured_at": "2026-11-21T08:15:30.120Z", "camera": "bus-door",
            "asset": sha, "count": {"name": "boarding", "value": ticketing}, "reason": "disputed",
            "context": {"route": "42", "source": "ticketing", "camera_count": camera_count,
                        "ticketing_count": ticketing}}


def test_a_dispute_stays_disputed_after_a_disagreeing_server_prelabel(kit):
    install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    sha = upload_clip(kit)
    [result] = send(kit, [dispute("d1", sha, ticketing=5, camera_count=3)])
    item = ReviewItem.objects.get(pk=result["review_item"])
    run = PrelabelRun.objects.get(review_item=item)
    assert run.status == PrelabelStatus.DONE and run.frame_index is None
    item.refresh_from_db()
    # The server's box "disagrees" with a dispute's no boxes; the item is still the operator's dispute.
    assert item.reason == "disputed"
    assert item.score_parts["model_disagreement"]["server_only"] == 1
    assert "field_reason" not in item.score_parts


def test_a_prediction_whose_device_reason_is_disputed_is_queued_as_disputed(kit):
    frame = jpeg_bytes(seed=4)
    sha = hashlib.sha256(frame).hexdigest()
    assert kit.put_media(frame).status_code in (200, 201)
    [result] = send(kit, [prediction_event("p1", sha, camera="bus-door", score=0.99, reason="disputed")])
    assert ReviewItem.objects.get(pk=result["review_item"]).reason == "disputed"


def test_the_claim_shows_the_device_count_its_tracks_and_the_second_opinion(kit):
    sha = upload_clip(kit)
    own = prediction_event("c1", sha, camera="bus-door", boxes=2, frame_index=12,
                           count={"name": "boarding", "value": 3})
    send(kit, [own, dispute("d1", sha, ticketing=5, camera_count=3)])
    item = ReviewItem.objects.get(reason="disputed")
    add_member(kit.project, "otto", "operator", sites=list(Site.objects.filter(project=kit.project)))
    claimed = as_user("otto").post(f"/api/v1/projects/{kit.project.pk}/queue/claim", {"reason": "disputed"},
                                   format="json")
    assert claimed.status_code == 200, claimed.content
    body = claimed.json()
    assert body["id"] == item.pk and body["reason"] == "disputed"
    assert body["dispute"]["second_opinion"] == {"source": "ticketing", "count": 5}
    device = body["dispute"]["device"]
    assert device["count"] == 3 and device["frame_index"] == 12
    assert device["model"] == {"name": "people-det", "version": "3"}
    assert [b["track_id"] for b in device["boxes"]] == [0, 1]


def test_a_frame_item_has_no_dispute_block(kit):
    frame = jpeg_bytes(seed=5)
    sha = hashlib.sha256(frame).hexdigest()
    kit.put_media(frame)
    send(kit, [prediction_event("p1", sha, camera="bus-door")])
    add_member(kit.project, "alice", "annotator")
    body = as_user("alice").post(f"/api/v1/projects/{kit.project.pk}/queue/claim", {}, format="json").json()
    assert body["dispute"] is None


def claimed_dispute(kit) -> ReviewItem:
    sha = upload_clip(kit)
    [result] = send(kit, [dispute("d1", sha, ticketing=5, camera_count=3)])
    add_member(kit.project, "otto", "operator", sites=list(Site.objects.filter(project=kit.project)))
    return ReviewItem.objects.get(pk=result["review_item"])


def test_the_server_model_runs_on_the_clip_frame_asked_for_once(kit):
    install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    item = claimed_dispute(kit)
    url = f"/api/v1/items/{item.pk}/prelabels"
    first = as_user("otto").post(url, {"frame_index": 7}, format="json")
    assert first.status_code == 201, first.content
    run = first.json()
    assert run["status"] == "done" and run["frame_index"] == 7 and run["model"]["name"] == "server-det"
    [box] = run["boxes"]
    assert box["label"] == "person" and len(box["box"]) == 4
    server = Prediction.objects.get(pk=PrelabelRun.objects.get(review_item=item, frame_index=7).prediction_id)
    assert server.source == PredictionSource.SERVER and server.frame_index == 7
    again = as_user("otto").post(url, {"frame_index": 7}, format="json")
    assert again.status_code == 200 and again.json()["id"] == run["id"]
    # The automatic pass on the item's own frame and the one asked for are both listed, each with its frame.
    listed = as_user("otto").get(url).json()
    assert sorted((r["frame_index"] is None, r["frame_index"]) for r in listed) == [(False, 7), (True, None)]
    item.refresh_from_db()
    assert item.reason == "disputed"


@pytest.mark.parametrize(("body", "code"), [
    ({"frame_index": FRAMES}, "frame_out_of_range"),
    ({"frame_index": -1}, "invalid"),
    ({"frame_index": "seven"}, "invalid"),
])
def test_a_bad_frame_is_refused_and_nothing_runs(kit, body, code):
    install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    item = claimed_dispute(kit)
    before = PrelabelRun.objects.count(), Prediction.objects.count()
    response = as_user("otto").post(f"/api/v1/items/{item.pk}/prelabels", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert (PrelabelRun.objects.count(), Prediction.objects.count()) == before


def test_a_frame_number_on_a_still_is_refused(kit):
    install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    frame = jpeg_bytes(seed=6)
    sha = hashlib.sha256(frame).hexdigest()
    kit.put_media(frame)
    [result] = send(kit, [prediction_event("p1", sha, camera="bus-door")])
    add_member(kit.project, "alice", "annotator")
    before = PrelabelRun.objects.count()
    response = as_user("alice").post(f"/api/v1/items/{result['review_item']}/prelabels", {"frame_index": 0},
                                     format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_a_clip"
    assert PrelabelRun.objects.count() == before


def test_an_outsider_gets_404_for_a_clip_frame(kit):
    install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    item = claimed_dispute(kit)
    from django.contrib.auth.models import User
    User.objects.create_user("charlie", password="pw-123456")
    response = as_user("charlie").post(f"/api/v1/items/{item.pk}/prelabels", {"frame_index": 3}, format="json")
    assert response.status_code == 404
    assert not PrelabelRun.objects.filter(frame_index=3).exists()
