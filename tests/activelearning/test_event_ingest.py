"""POST /api/v1/events: per-event results, idempotency by device event id, one bad event rejected alone."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from annotations.models import Prediction
from annotations.services import revoke_device
from reviewer.models import ReviewItem
from tests.factories import jpeg_bytes, make_device_kit, make_project, mp4_bytes, prediction_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def asset(kit) -> str:
    body = jpeg_bytes(320, 240)
    assert kit.put_media(body).status_code == 201
    return hashlib.sha256(body).hexdigest()


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def assert_batch_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert Prediction.objects.count() == 0
    assert ReviewItem.objects.count() == 0


def test_prediction_event_is_stored_with_its_detections_and_queued(kit, asset):
    [result] = results(kit.post_events([prediction_event("e1", asset, boxes=2)]))
    assert result["status"] == "created"
    prediction = Prediction.objects.get()
    assert prediction.event_id == "e1" and prediction.device == kit.device
    assert prediction.detection_count == 2
    assert prediction.detections[0] == {"label": "person", "score": 0.41, "box": [10.0, 20.0, 25.0, 60.0],
                                        "track_id": 0}
    assert prediction.model_name == "people-det" and prediction.model_version == "3"
    item = ReviewItem.objects.get()
    assert result["review_item"] == item.pk
    assert item.reason == "low_confidence" and item.status == "pending"
    assert item.asset.sha256 == asset and item.site == kit.device.site
    assert 0 < item.priority <= 1
    assert {"least_confidence", "margin", "entropy", "device_reason", "quality", "signals"} <= item.score_parts.keys()


def test_confident_event_is_stored_but_not_queued(kit, asset):
    event = prediction_event("sure", asset, score=0.97, reason=None)
    [result] = results(kit.post_events([event]))
    assert result == {"id": "sure", "status": "created"}
    assert Prediction.objects.count() == 1
    assert ReviewItem.objects.count() == 0


def test_count_event_needs_no_asset(kit):
    event = {"id": "c1", "type": "count", "captured_at": "2026-11-21T08:00:00Z", "camera": "door-1",
             "count": {"name": "people_in", "value": 7}}
    [result] = results(kit.post_events([event]))
    assert result["status"] == "created"
    prediction = Prediction.objects.get()
    assert (prediction.count_name, prediction.count_value, prediction.asset) == ("people_in", 7, None)
    assert ReviewItem.objects.count() == 0


def test_dispute_event_is_always_queued_as_disputed(kit):
    clip = mp4_bytes()
    assert kit.put_media(clip, "video/mp4").status_code == 201
    event = prediction_event("d1", hashlib.sha256(clip).hexdigest(), score=0.95, type="dispute",
                             count={"name": "boarding", "value": 3}, reason="disputed",
                             context={"ticketing_count": 5, "route": "42"})
    [result] = results(kit.post_events([event]))
    assert result["status"] == "created"
    assert ReviewItem.objects.get().reason == "disputed"


def test_resent_event_is_reported_duplicate_and_stores_nothing(kit, asset):
    batch = [prediction_event(f"e{i}", asset) for i in range(3)]
    assert [r["status"] for r in results(kit.post_events(batch))] == ["created"] * 3
    # Same payload with keys in another order and different whitespace is still the same event.
    reordered = json.dumps({"events": [dict(reversed(list(e.items()))) for e in batch]}, indent=2).encode()
    assert [r["status"] for r in results(kit.post_raw(reordered))] == ["duplicate"] * 3
    assert Prediction.objects.count() == 3
    assert ReviewItem.objects.count() == 3


def test_same_id_with_a_different_payload_is_id_conflict_and_the_original_stands(kit, asset):
    results(kit.post_events([prediction_event("e1", asset, score=0.41)]))
    [result] = results(kit.post_events([prediction_event("e1", asset, score=0.90)]))
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "id_conflict"
    assert Prediction.objects.get().detections[0]["score"] == 0.41


def test_duplicate_ids_inside_one_batch(kit, asset):
    batch = [prediction_event("x", asset), prediction_event("x", asset), prediction_event("x", asset, score=0.2)]
    statuses = [(r["status"], r.get("error", {}).get("code")) for r in results(kit.post_events(batch))]
    assert statuses == [("created", None), ("duplicate", None), ("rejected", "id_conflict")]
    assert Prediction.objects.count() == 1


def test_event_ids_are_scoped_per_device(kit, asset):
    other = make_device_kit(project=kit.project, site="Harbour", camera="door-2")
    results(kit.post_events([prediction_event("e1", asset)]))
    [result] = results(other.post_events([prediction_event("e1", asset, camera="door-2")]))
    assert result["status"] == "created"
    assert Prediction.objects.count() == 2


def test_box_partly_outside_is_clipped_and_kept(kit, asset):
    event = prediction_event("edge", asset)
    event["detections"][0]["box"] = [-10.0, 200.0, 50.0, 100.0]  # image is 320×240
    [result] = results(kit.post_events([event]))
    assert result["status"] == "created"
    assert Prediction.objects.get().detections[0]["box"] == [0.0, 200.0, 40.0, 40.0]


def _with_detection(asset: str, **changes) -> dict:
    event = prediction_event("bad", asset)
    event["detections"][0].update(changes)
    return event


@pytest.mark.parametrize(("make_event", "code"), [
    (lambda a: _with_detection(a, box=[400.0, 10.0, 20.0, 20.0]), "invalid_box"),
    (lambda a: _with_detection(a, box=[-50.0, -50.0, 20.0, 20.0]), "invalid_box"),
    (lambda a: _with_detection(a, box=[10.0, 10.0, 0.0, 20.0]), "invalid_box"),
    (lambda a: _with_detection(a, box=[10.0, 10.0, 20.0, -5.0]), "invalid_box"),
    (lambda a: _with_detection(a, box=[10.0, 10.0, 20.0]), "invalid_event"),
    (lambda a: _with_detection(a, score=1.5), "invalid_score"),
    (lambda a: _with_detection(a, score=-0.1), "invalid_score"),
    (lambda a: _with_detection(a, score="high"), "invalid_event"),
    (lambda a: _with_detection(a, label="dog"), "unknown_label"),
    (lambda a: prediction_event("bad", "f" * 64), "asset_missing"),
    (lambda a: prediction_event("bad", a, camera="someone-elses-camera"), "unknown_camera"),
    (lambda a: prediction_event("bad", a, captured_at=(datetime.now(UTC) + timedelta(days=2)).isoformat()),
     "invalid_timestamp"),
    (lambda a: prediction_event("bad", a, captured_at="2026-11-21T08:15:30"), "invalid_event"),  # no zone
    (lambda a: prediction_event("bad", a, captured_at="yesterday"), "invalid_event"),
    (lambda a: prediction_event("bad", a, type="teleport"), "invalid_event"),
    (lambda a: prediction_event("bad", a, reason="because"), "invalid_reason"),
    (lambda a: prediction_event("bad", a, frame_index=3), "invalid_frame_index"),
    (lambda a: prediction_event("bad", "../../etc/passwd"), "invalid_event"),
    (lambda a: prediction_event("bad", a, unexpected_field=1), "invalid_event"),
    (lambda a: {k: v for k, v in prediction_event("bad", a).items() if k != "asset"}, "invalid_event"),
    (lambda a: {"id": "bad", "type": "count", "captured_at": "2026-11-21T08:00:00Z", "camera": "door-1"},
     "invalid_event"),
    (lambda a: "not an object", "invalid_event"),
])
def test_bad_event_is_rejected_with_its_code_and_stores_nothing(kit, asset, make_event, code):
    [result] = results(kit.post_events([make_event(asset)]))
    assert result["status"] == "rejected", result
    assert result["error"]["code"] == code, result
    assert result["error"]["message"]
    assert Prediction.objects.count() == 0
    assert ReviewItem.objects.count() == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinite_score_rejects_only_that_event(kit, asset, literal):
    good = json.dumps(prediction_event("good", asset))
    bad = json.dumps(prediction_event("bad", asset)).replace("0.41", literal)
    body = f'{{"events": [{good}, {bad}]}}'.encode()
    first, second = results(kit.post_raw(body))
    assert first["status"] == "created"
    assert (second["status"], second["error"]["code"]) == ("rejected", "invalid_number")
    assert list(Prediction.objects.values_list("event_id", flat=True)) == ["good"]


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_out_of_range_number_rejects_only_that_event(kit, asset, number):
    good = json.dumps(prediction_event("good", asset))
    bad = json.dumps(prediction_event("bad", asset)).replace("0.41", number)
    first, second = results(kit.post_raw(f'{{"events": [{good}, {bad}]}}'.encode()))
    assert first["status"] == "created"
    assert (second["id"], second["status"], second["error"]["code"]) == ("bad", "rejected", "invalid_number")
    assert list(Prediction.objects.values_list("event_id", flat=True)) == ["good"]


def test_one_bad_event_in_a_batch_of_500_is_rejected_alone(kit, asset):
    batch = [prediction_event(f"e{i}", asset, boxes=5) for i in range(500)]
    batch[237]["detections"][2]["box"] = [1000.0, 1000.0, 5.0, 5.0]
    out = results(kit.post_events(batch))
    assert len(out) == 500
    assert [r["id"] for r in out] == [f"e{i}" for i in range(500)]
    assert out[237]["status"] == "rejected" and out[237]["error"]["code"] == "invalid_box"
    assert sum(r["status"] == "created" for r in out) == 499
    assert Prediction.objects.count() == 499
    assert not Prediction.objects.filter(event_id="e237").exists()


def test_batch_over_the_event_limit_is_413_and_stores_nothing(kit, asset, settings):
    settings.LOUPE_MAX_BATCH_EVENTS = 10
    assert_batch_error(kit.post_events([prediction_event(f"e{i}", asset) for i in range(11)]),
                       413, "batch_too_large")


def test_batch_over_the_byte_limit_is_413(kit, asset, settings):
    settings.LOUPE_MAX_BATCH_BYTES = 2000
    assert_batch_error(kit.post_events([prediction_event(f"e{i}", asset) for i in range(20)]),
                       413, "batch_too_large")


@pytest.mark.parametrize("body", [b"{not json", b"", b"[]", b'{"events": {}}', b'{"evts": []}', b"\xff\xfe",
                                  b'{"events": [1, 2'])
def test_malformed_batch_is_400(kit, body):
    assert_batch_error(kit.post_raw(body), 400, "malformed_json")


def test_empty_batch_is_fine(kit):
    assert results(kit.post_events([])) == []


def test_events_without_token_are_401(db):
    response = Client().post("/api/v1/events", data={"events": []}, content_type="application/json")
    assert_batch_error(response, 401, "not_authenticated")


def test_events_with_unknown_token_are_401(db):
    response = Client().post("/api/v1/events", data={"events": []}, content_type="application/json",
                             HTTP_AUTHORIZATION="Bearer ld_not-a-real-token")
    assert_batch_error(response, 401, "authentication_failed")


def test_events_with_revoked_token_are_401(kit, asset):
    revoke_device(device=kit.device)
    assert_batch_error(kit.post_events([prediction_event("e1", asset)]), 401, "token_revoked")


def test_user_token_scheme_is_not_a_device_token(kit):
    response = kit.client.post("/api/v1/events", data={"events": []}, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Token {kit.token}")
    assert_batch_error(response, 401, "not_authenticated")


def test_device_cannot_write_into_another_projects_camera(kit, asset):
    other_project = make_project("bus-boarding")
    make_device_kit(project=other_project, site="Route 42", camera="front-door")
    [result] = results(kit.post_events([prediction_event("e1", asset, camera="front-door")]))
    assert (result["status"], result["error"]["code"]) == ("rejected", "unknown_camera")
    assert Prediction.objects.count() == 0


def test_clip_frame_index_is_checked_against_the_clip(kit):
    clip = mp4_bytes(frames=12)
    assert kit.put_media(clip, "video/mp4").status_code == 201
    sha = hashlib.sha256(clip).hexdigest()
    ok, past_end = results(kit.post_events([
        prediction_event("f11", sha, frame_index=11), prediction_event("f12", sha, frame_index=12),
    ]))
    assert ok["status"] == "created"
    assert (past_end["status"], past_end["error"]["code"]) == ("rejected", "invalid_frame_index")
