"""Staged rollouts through the device API (docs/rollouts.md): ten simulated devices heartbeat their telemetry
with their tokens and poll `/models/current`; time is driven by moving the stage's start into the past, never
by sleeping."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from activelearning.health.models import DeviceTelemetry
from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.rollouts.models import ModelPin, Rollout, RolloutStatus
from activelearning.rollouts.services import evaluate_active, evaluate_rollout
from activelearning.webhooks.models import Webhook, WebhookDelivery
from annotations.models import AuditEvent, Device, Site
from annotations.services import create_device
from tests.factories import add_member, as_user, make_project

GATES = [{"metric": "inference_ms_p95", "comparison": "ratio", "tolerance": 0.25},
         {"metric": "crashes", "comparison": "delta", "tolerance": 1}]
STAGES = [{"devices": ["dev-0", "dev-1"], "soak_minutes": 30}, {"percent": 50, "soak_minutes": 60},
          {"percent": 100, "soak_minutes": 60}]


class Fleet:
    def __init__(self, project, count: int = 10) -> None:
        self.project = project
        self.tokens: dict[str, str] = {}
        for i in range(count):
            issued = create_device(project=project, site_name="North" if i < 5 else "South",
                                   camera_names=[f"cam-{i}"], device_name=f"dev-{i}")
            self.tokens[issued.device.name] = issued.token
        self.client = Client()

    def headers(self, name: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[name]}"}

    def poll(self, name: str) -> str:
        response = self.client.get("/api/v1/models/current", **self.headers(name))
        assert response.status_code == 200, response.content
        assert response["ETag"] == f'"{response.json()["sha256"]}"'
        return str(response.json()["sha256"])

    def heartbeat(self, name: str, sha256: str, **telemetry) -> dict:
        response = self.client.post("/api/v1/heartbeat", data={"model_sha256": sha256, **telemetry},
                                    content_type="application/json", **self.headers(name))
        assert response.status_code == 200, response.content
        return response.json()

    def cycle(self, latency_of=lambda name, sha: 40.0, crashes=0) -> dict[str, str]:
        """Each device polls, installs what it is told and reports running it; what each runs."""
        running = {}
        for name in self.tokens:
            sha = self.poll(name)
            self.heartbeat(name, sha, inference_ms_p50=latency_of(name, sha) / 2,
                           inference_ms_p95=latency_of(name, sha), crashes=crashes)
            running[name] = sha
        return running


def model(project, n: int, status: str = ModelStatus.CANDIDATE, opset: int = 17) -> ModelVersion:
    return ModelVersion.objects.create(project=project, name="det", version=n, file=f"models/{n}.onnx",
                                       sha256=f"{project.pk:032x}{n:032x}", size_bytes=1, input_width=64,
                                       input_height=64, classes=["person"], status=status, opset=opset)


@pytest.fixture
def fleet(db):
    project = make_project()
    add_member(project, "dana", "admin")
    add_member(project, "alice", "annotator")
    fleet = Fleet(project)
    fleet.champion = model(project, 1, ModelStatus.CHAMPION)
    fleet.candidate = model(project, 2)
    return fleet


def start(fleet, stages=STAGES, gates=GATES, user="dana"):
    return as_user(user).post(f"/api/v1/models/{fleet.candidate.pk}/promote",
                              {"to": "champion", "stages": stages, "gates": gates}, format="json")


def soak_over(rollout_id: int) -> None:
    Rollout.objects.filter(pk=rollout_id).update(stage_started_at=timezone.now() - timedelta(hours=3))
    DeviceTelemetry.objects.update(received_at=timezone.now() - timedelta(hours=2))


def test_a_healthy_canary_advances_stage_by_stage_to_every_device(fleet):
    response = start(fleet)
    assert response.status_code == 201, response.json()
    rollout_id = response.json()["id"]
    new, old = fleet.candidate.sha256, fleet.champion.sha256
    running = fleet.cycle()
    assert {n for n, sha in running.items() if sha == new} == {"dev-0", "dev-1"}
    assert evaluate_rollout(rollout_id) == "wait"  # soak not over
    soak_over(rollout_id)
    assert evaluate_rollout(rollout_id) == "advance"
    on_new = []
    for expected_stage in (1, 2):
        running = fleet.cycle()
        on_new.append({n for n, sha in running.items() if sha == new})
        assert Rollout.objects.get(pk=rollout_id).stage_index == expected_stage
        soak_over(rollout_id)
        assert evaluate_rollout(rollout_id) == ("advance" if expected_stage == 1 else "complete")
    assert {"dev-0", "dev-1"} < on_new[0] < on_new[1] == set(fleet.tokens)
    rollout = Rollout.objects.get(pk=rollout_id)
    assert rollout.status == RolloutStatus.COMPLETED and rollout.finished_at is not None
    fleet.candidate.refresh_from_db()
    assert fleet.candidate.status == ModelStatus.CHAMPION and fleet.candidate.replaces_id == fleet.champion.pk
    assert set(fleet.cycle().values()) == {new} and old != new
    assert list(AuditEvent.objects.filter(object_type="rollout").order_by("id").values_list("action", flat=True)) == [
        "rollout.started", "rollout.advanced", "rollout.advanced", "rollout.completed"]
    assert evaluate_active() == {}  # nothing running any more


def test_a_canary_with_worse_latency_halts_and_every_device_ends_on_the_champion(fleet):
    hook = Webhook.objects.create(project=fleet.project, url="https://example.com/h", secret="s" * 32,
                                  events=["rollout.halted"])
    rollout_id = start(fleet).json()["id"]
    new, old = fleet.candidate.sha256, fleet.champion.sha256
    fleet.cycle(latency_of=lambda name, sha: 95.0 if sha == new else 40.0)
    # Halts at once, soak or not: limiting a bad model's blast radius is the point.
    assert evaluate_rollout(rollout_id) == "halt"
    rollout = Rollout.objects.get(pk=rollout_id)
    assert rollout.status == RolloutStatus.HALTED
    failed = rollout.halt_reason["gates"]
    assert [g["metric"] for g in failed] == ["inference_ms_p95"] and failed[0]["candidate"] == 95.0
    assert set(fleet.cycle().values()) == {old}
    assert AuditEvent.objects.filter(action="rollout.halted", object_id=str(rollout_id)).count() == 1
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.event == "rollout.halted" and delivery.payload["rollout"] == rollout_id
    assert evaluate_rollout(rollout_id) == "idle"  # a halted rollout stays halted
    fleet.candidate.refresh_from_db()
    assert fleet.candidate.status == ModelStatus.CANDIDATE


def test_a_crashing_canary_halts(fleet):
    rollout_id = start(fleet).json()["id"]
    fleet.cycle()
    new = fleet.candidate.sha256
    for name in ("dev-0", "dev-1"):
        fleet.heartbeat(name, new, inference_ms_p95=40.0, crashes=5)
    assert evaluate_rollout(rollout_id) == "halt"
    assert Rollout.objects.get(pk=rollout_id).halt_reason["gates"][0]["metric"] == "crashes"


def test_a_device_with_an_old_runtime_is_never_offered_the_new_model(fleet):
    ModelVersion.objects.filter(pk=fleet.candidate.pk).update(opset=19)
    fleet.heartbeat("dev-0", fleet.champion.sha256, runtime={"onnxruntime": "1.14.1", "opset": 17})
    fleet.heartbeat("dev-1", fleet.champion.sha256, runtime={"onnxruntime": "1.17.1", "opset": 20})
    rollout_id = start(fleet, stages=[{"percent": 100, "soak_minutes": 0}], gates=[]).json()["id"]
    assert fleet.poll("dev-0") == fleet.champion.sha256
    assert fleet.poll("dev-1") == fleet.candidate.sha256
    assert fleet.poll("dev-2") == fleet.candidate.sha256  # no runtime reported: today's behaviour
    answer = fleet.heartbeat("dev-0", fleet.champion.sha256)
    assert answer["model"]["sha256"] == fleet.champion.sha256
    assert evaluate_rollout(rollout_id) == "complete"
    # The new champion needs opset 19: the old device keeps the champion it can run.
    assert fleet.poll("dev-0") == fleet.champion.sha256
    assert Device.objects.get(name="dev-0").runtime == {"onnxruntime": "1.14.1", "opset": 17}


def test_a_pin_wins_over_the_rollout(fleet):
    start(fleet, stages=[{"percent": 100}], gates=[])
    dev0 = Device.objects.get(name="dev-0")
    south = Site.objects.get(project=fleet.project, name="South")
    pinned = as_user("dana").post(f"/api/v1/projects/{fleet.project.pk}/pins/",
                                  {"device": dev0.pk, "model": fleet.champion.pk}, format="json")
    assert pinned.status_code == 201, pinned.json()
    site_pin = as_user("dana").post(f"/api/v1/projects/{fleet.project.pk}/pins/",
                                    {"site": south.pk, "model": fleet.champion.pk}, format="json")
    assert site_pin.status_code == 201
    running = fleet.cycle()
    assert running["dev-0"] == fleet.champion.sha256 and running["dev-1"] == fleet.candidate.sha256
    assert all(running[f"dev-{i}"] == fleet.champion.sha256 for i in range(5, 10))
    assert as_user("dana").delete(
        f"/api/v1/projects/{fleet.project.pk}/pins/{pinned.json()['id']}").status_code == 204
    assert fleet.poll("dev-0") == fleet.candidate.sha256
    assert AuditEvent.objects.filter(action__in=["model.pinned", "model.unpinned"]).count() == 3


def test_a_pin_to_another_projects_model_is_refused_and_nothing_stored(fleet):
    other = make_project("bus-boarding")
    foreign = model(other, 1, ModelStatus.CHAMPION)
    dev0 = Device.objects.get(name="dev-0")
    response = as_user("dana").post(f"/api/v1/projects/{fleet.project.pk}/pins/",
                                    {"device": dev0.pk, "model": foreign.pk}, format="json")
    assert response.status_code == 400
    assert "model" in response.json()["error"]["details"]
    assert not ModelPin.objects.exists()
    assert as_user("alice").post(f"/api/v1/projects/{fleet.project.pk}/pins/",
                                 {"device": dev0.pk, "model": fleet.champion.pk}, format="json").status_code == 403


@pytest.mark.parametrize("stages, gates, field", [
    ([], GATES, "stages"),
    ([{"percent": 50}, {"percent": 20}], GATES, "stages"),  # not increasing
    ([{"percent": 50}, {"percent": 50}], GATES, "stages"),
    ([{"percent": 120}], GATES, "stages"),
    ([{"percent": -5}], GATES, "stages"),
    ([{"percent": 10, "soak_minutes": -1}], GATES, "stages"),
    ([{"soak_minutes": 10}], GATES, "stages"),  # takes no device at all
    ([{"devices": ["no-such-device"]}], GATES, "stages"),
    ([{"sites": [999999]}], GATES, "stages"),
    ("all", GATES, "stages"),
    ([{"percent": 10}], [{"metric": "vibes", "tolerance": 0.1}], "gates"),
    ([{"percent": 10}], [{"metric": "crashes", "comparison": "more", "tolerance": 0.1}], "gates"),
    ([{"percent": 10}], [{"metric": "crashes", "tolerance": -1}], "gates"),
])
def test_bad_plans_are_400_beside_the_field_and_store_nothing(fleet, stages, gates, field):
    response = start(fleet, stages=stages, gates=gates)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] and error["message"] and field in error["details"]
    assert not Rollout.objects.exists()
    fleet.candidate.refresh_from_db()
    assert fleet.candidate.status == ModelStatus.CANDIDATE
    assert not AuditEvent.objects.filter(object_type="rollout").exists()


def test_plain_promotion_without_a_plan_is_immediate(fleet):
    response = as_user("dana").post(f"/api/v1/models/{fleet.candidate.pk}/promote", {"to": "champion"},
                                    format="json")
    assert response.status_code == 200 and response.json()["status"] == "champion"
    assert not Rollout.objects.exists()
    assert set(fleet.cycle().values()) == {fleet.candidate.sha256}


def test_admin_actions_pause_resume_advance_abort(fleet):
    rollout_id = start(fleet).json()["id"]
    url = f"/api/v1/rollouts/{rollout_id}"
    assert as_user("alice").post(f"{url}/pause").status_code == 403
    other = make_project("bus-boarding")
    add_member(other, "olga", "admin")
    assert as_user("olga").post(f"{url}/pause").status_code == 404
    assert as_user("dana").post(f"{url}/explode").status_code == 404
    assert as_user("dana").post(f"{url}/pause").json()["status"] == "paused"
    soak_over(rollout_id)
    assert evaluate_rollout(rollout_id) == "idle"  # a paused rollout does not move
    assert as_user("dana").post(f"{url}/pause").status_code == 409
    assert as_user("dana").post(f"{url}/resume").json()["status"] == "running"
    assert as_user("dana").post(f"{url}/advance", {"stage": 0}, format="json").json()["stage_index"] == 1
    repeat = as_user("dana").post(f"{url}/advance", {"stage": 0}, format="json")  # a retried click
    assert repeat.status_code == 409 and Rollout.objects.get(pk=rollout_id).stage_index == 1
    assert as_user("dana").post(f"{url}/abort").json()["status"] == "aborted"
    assert set(fleet.cycle().values()) == {fleet.champion.sha256}
    assert as_user("alice").get(url).json()["status"] == "aborted"
    assert [r["id"] for r in as_user("alice").get(f"/api/v1/projects/{fleet.project.pk}/rollouts/").json()] == [
        rollout_id]
    actions = set(AuditEvent.objects.filter(object_type="rollout").values_list("action", flat=True))
    assert {"rollout.paused", "rollout.resumed", "rollout.advanced", "rollout.aborted"} <= actions


def test_one_active_rollout_per_project(fleet):
    assert start(fleet).status_code == 201
    third = model(fleet.project, 3)
    response = as_user("dana").post(f"/api/v1/models/{third.pk}/promote",
                                    {"to": "champion", "stages": STAGES, "gates": GATES}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "rollout_active"


def test_heartbeat_telemetry_is_validated(fleet):
    bad = fleet.client.post("/api/v1/heartbeat", data={"runtime": {"opset": "new"}, "inference_ms_p95": -3},
                            content_type="application/json", **fleet.headers("dev-0"))
    assert bad.status_code == 400
    assert {"runtime", "inference_ms_p95"} <= set(bad.json()["error"]["details"])
    assert not DeviceTelemetry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_evaluators_at_once_advance_a_stage_once(postgres):
    project = make_project()
    fleet = Fleet(project, count=4)
    fleet.champion = model(project, 1, ModelStatus.CHAMPION)
    fleet.candidate = model(project, 2)
    rollout = Rollout.objects.create(project=project, model=fleet.candidate, previous=fleet.champion,
                                     stages=STAGES, gates=[], stage_started_at=timezone.now() - timedelta(hours=3))
    barrier, results = threading.Barrier(2), []

    def evaluate() -> None:
        try:
            barrier.wait()
            results.append(evaluate_rollout(rollout.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["advance", "wait"]
    assert Rollout.objects.get(pk=rollout.pk).stage_index == 1
    assert AuditEvent.objects.filter(action="rollout.advanced").count() == 1


def test_a_stage_change_interrupted_before_its_commit_leaves_the_stage_as_it_was(fleet, monkeypatch):
    """The server dying mid-change (here: the audit write failing) rolls back the whole change; the next
    evaluation does it again, once."""
    from annotations import audit

    rollout_id = start(fleet).json()["id"]
    fleet.cycle()
    soak_over(rollout_id)
    real_record = audit.record

    def dies(**kwargs):
        if kwargs["action"] == "rollout.advanced":
            raise SystemExit("killed")
        return real_record(**kwargs)

    monkeypatch.setattr(audit, "record", dies)
    with pytest.raises(SystemExit):
        evaluate_rollout(rollout_id)
    rollout = Rollout.objects.get(pk=rollout_id)
    assert (rollout.stage_index, rollout.status) == (0, RolloutStatus.RUNNING)
    assert not AuditEvent.objects.filter(action="rollout.advanced").exists()
    monkeypatch.setattr(audit, "record", real_record)
    assert evaluate_rollout(rollout_id) == "advance"
    assert Rollout.objects.get(pk=rollout_id).stage_index == 1
    assert AuditEvent.objects.filter(action="rollout.advanced").count() == 1


def test_a_canary_whose_cameras_draw_more_count_flags_halts(fleet):
    from annotations.models import Camera
    from reviewer.flags import Window, create_count_flag

    gate = [{"metric": "count_flag_rate", "comparison": "delta", "tolerance": 0.5}]
    rollout_id = start(fleet, gates=gate).json()["id"]
    fleet.cycle()
    manager = add_member(fleet.project, "maria", "manager")
    now = timezone.now()
    for camera in Camera.objects.filter(name__in=["cam-0", "cam-1"]):
        for minutes in (10, 20):
            create_count_flag(camera=camera, user=manager, observed_count=7,
                              window=Window(start=now - timedelta(minutes=minutes + 5),
                                            end=now - timedelta(minutes=minutes)))
    assert evaluate_rollout(rollout_id) == "halt"
    [failed] = Rollout.objects.get(pk=rollout_id).halt_reason["gates"]
    assert (failed["metric"], failed["candidate"], failed["champion"]) == ("count_flag_rate", 2.0, 0.0)
    assert set(fleet.cycle().values()) == {fleet.champion.sha256}

