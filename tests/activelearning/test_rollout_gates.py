"""The rollout gates added with device health (inference keeping up with the camera, confidence drift of the
canary against the champion) and a champion changed by hand during a rollout. Run on PostgreSQL and, by
tests/test_sqlite_mode.py, on the embedded SQLite (the gate queries use Greatest/Case and JSON reads)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from activelearning.rollouts.models import Rollout, RolloutStatus
from activelearning.rollouts.services import evaluate_rollout
from annotations.models import AuditEvent, Camera, Device, Prediction
from tests.activelearning.test_rollouts import GATES, STAGES, fleet, model, soak_over, start
from tests.factories import as_user

__all__ = ["fleet"]  # the fixture, shared with test_rollouts


def test_a_canary_whose_inference_falls_behind_the_camera_halts(fleet):
    gate = [{"metric": "inference_lag", "comparison": "delta", "tolerance": 0.1}]
    rollout_id = start(fleet, gates=gate).json()["id"]
    new = fleet.candidate.sha256
    for name in fleet.tokens:
        sha = fleet.poll(name)
        # The champion keeps up with its 15 fps cameras; the canary infers 9 of every 15 frames (lag 0.4).
        fleet.heartbeat(name, sha, fps=15.0, inference_fps=9.0 if sha == new else 15.0)
    assert evaluate_rollout(rollout_id) == "halt"
    [failed] = Rollout.objects.get(pk=rollout_id).halt_reason["gates"]
    assert failed["metric"] == "inference_lag"
    assert failed["candidate"] == pytest.approx(0.4) and failed["champion"] == pytest.approx(0.0)


def _predictions(fleet, sha256: str, scores: list[float], *, device: str) -> None:
    dev = Device.objects.get(name=device)
    camera = Camera.objects.get(device=dev)
    now = timezone.now()
    Prediction.objects.bulk_create(
        Prediction(project=fleet.project, device=dev, camera=camera, event_id=f"{sha256[:8]}-{device}-{i}",
                   event_type="prediction", payload_hash="0" * 64, captured_at=now, received_at=now,
                   model_sha256=sha256, detections=[{"label": "person", "score": s, "box": [1, 1, 5, 5]}],
                   detection_count=1)
        for i, s in enumerate(scores))


@pytest.mark.parametrize(("canary_scores", "decision"), [
    ([0.15 + 0.01 * (i % 10) for i in range(200)], "halt"),  # the canary's scores collapsed towards 0.2
    ([0.55 + 0.004 * (i % 100) for i in range(200)], "wait"),  # the same shape as the champion's: passes, soaks
])
def test_a_canary_whose_confidence_distribution_moved_halts(fleet, canary_scores, decision):
    gate = [{"metric": "confidence_drift", "comparison": "delta", "tolerance": 0.2}]
    rollout_id = start(fleet, gates=gate).json()["id"]
    fleet.cycle()
    _predictions(fleet, fleet.champion.sha256, [0.55 + 0.004 * (i % 100) for i in range(300)], device="dev-5")
    _predictions(fleet, fleet.candidate.sha256, canary_scores, device="dev-0")
    assert evaluate_rollout(rollout_id) == decision
    figures = {g["metric"]: g for g in Rollout.objects.get(pk=rollout_id).last_evaluation["gates"]}
    drift = figures["confidence_drift"]
    assert drift["champion"] == 0.0
    assert (drift["candidate"] > 0.2) == (decision == "halt")


def test_too_few_canary_scores_for_drift_is_no_data_and_the_stage_waits(fleet):
    gate = [{"metric": "confidence_drift", "comparison": "delta", "tolerance": 0.2}]
    rollout_id = start(fleet, gates=gate).json()["id"]
    fleet.cycle()
    _predictions(fleet, fleet.champion.sha256, [0.6] * 300, device="dev-5")
    _predictions(fleet, fleet.candidate.sha256, [0.1] * 10, device="dev-0")
    soak_over(rollout_id)
    assert evaluate_rollout(rollout_id) == "wait"
    [gate_result] = Rollout.objects.get(pk=rollout_id).last_evaluation["gates"]
    assert gate_result["verdict"] == "no_data"


def test_making_the_rollouts_model_champion_by_hand_completes_the_rollout(fleet):
    rollout_id = start(fleet).json()["id"]
    response = as_user("dana").post(f"/api/v1/models/{fleet.candidate.pk}/promote", {"to": "champion"},
                                    format="json")
    assert response.status_code == 200, response.json()
    rollout = Rollout.objects.get(pk=rollout_id)
    assert rollout.status == RolloutStatus.COMPLETED and rollout.finished_at is not None
    assert set(fleet.cycle().values()) == {fleet.candidate.sha256}
    event = AuditEvent.objects.get(action="rollout.completed", object_id=str(rollout_id))
    assert "by hand" in event.after["reason"]


def test_another_champion_by_hand_or_a_rollback_aborts_the_rollout(fleet):
    third = model(fleet.project, 3)
    rollout_id = start(fleet).json()["id"]
    assert as_user("dana").post(f"/api/v1/models/{third.pk}/promote", {"to": "champion"},
                                format="json").status_code == 200
    assert Rollout.objects.get(pk=rollout_id).status == RolloutStatus.ABORTED
    # Every device is on the new champion: the aborted rollout offers nothing any more.
    assert set(fleet.cycle().values()) == {third.sha256}
    # A second rollout, then the one-action rollback during it: aborted, and everyone on the old champion.
    fleet.candidate.refresh_from_db()
    second = as_user("dana").post(f"/api/v1/models/{fleet.candidate.pk}/promote",
                                  {"to": "champion", "stages": STAGES, "gates": GATES}, format="json")
    assert second.status_code == 201, second.json()
    assert as_user("dana").post(f"/api/v1/models/{third.pk}/rollback").status_code == 200
    assert Rollout.objects.get(pk=second.json()["id"]).status == RolloutStatus.ABORTED
    assert set(fleet.cycle().values()) == {fleet.champion.sha256}
    assert AuditEvent.objects.filter(action="rollout.aborted").count() == 2
