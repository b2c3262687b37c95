"""An admin rolls a new model out in stages from the models page: a plan with shares that do not increase is
refused beside the field with nothing stored; the corrected plan starts a rollout whose canary device (and only
it) is offered the new model over the air; the canary reports worse latency, the gate check halts the rollout,
the panel says why, and every device is offered the champion again. Then a pin holds one device on the new
model whatever the rollouts say, until it is removed."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.rollouts.models import ModelPin, Rollout, RolloutStatus
from activelearning.rollouts.services import evaluate_rollout
from annotations.models import AuditEvent, Device
from annotations.services import create_device
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_project

pytestmark = pytest.mark.django_db(transaction=True)


def model(project, n: int, status: str) -> ModelVersion:
    return ModelVersion.objects.create(project=project, name="people-det", version=n, file=f"models/{n}.onnx",
                                       sha256=f"{n:064x}", size_bytes=1, input_width=64, input_height=64,
                                       classes=["person"], status=status, opset=17)


def test_admin_starts_a_staged_rollout_and_a_bad_canary_halts_it(page, app_server, make_user, screenshot):
    project = make_project("rollout-fleet")
    tokens = {f"bus-{i}": create_device(project=project, site_name="Depot", camera_names=[f"door-{i}"],
                                        device_name=f"bus-{i}").token for i in range(4)}
    champion, candidate = model(project, 1, ModelStatus.CHAMPION), model(project, 2, ModelStatus.CANDIDATE)
    password = add_browser_member(make_user, project, "dana", "admin")

    def poll(name: str) -> str:
        answer = httpx.get(f"{app_server.url}/api/v1/models/current",
                           headers={"Authorization": f"Bearer {tokens[name]}"})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["sha256"])

    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/models")
    page.get_by_test_id(f"model-rollout-{candidate.pk}").click()
    form = page.get_by_test_id("start-rollout-form")
    expect(form).to_contain_text("Roll out people-det v2 in stages")

    page.get_by_label("Canary devices").fill("bus-1")
    page.get_by_label("Canary share of the fleet (%)").fill("")
    page.get_by_label("Then widen to (%)").fill("50, 40")
    page.get_by_test_id("start-rollout-submit").click()
    expect(page.get_by_test_id("start-rollout-widerPercents-error")).to_contain_text("above the one before")
    expect(page.get_by_label("Then widen to (%)")).to_be_focused()
    # A device the fleet does not have is the server's to refuse, also beside its field.
    page.get_by_label("Canary devices").fill("bus-99")
    page.get_by_label("Then widen to (%)").fill("50, 100")
    page.get_by_test_id("start-rollout-submit").click()
    expect(page.get_by_test_id("start-rollout-canaryDevices-error")).to_contain_text("bus-99")
    assert not Rollout.objects.exists()

    page.get_by_label("Canary devices").fill("bus-1")
    page.get_by_test_id("start-rollout-gate-count_flag_rate").check()
    page.get_by_test_id("start-rollout-submit").click()
    rollouts = page.get_by_test_id("rollouts")
    expect(rollouts).to_contain_text("people-det v2")
    rollout = Rollout.objects.get()
    expect(page.get_by_test_id(f"rollout-status-{rollout.pk}")).to_have_text("running")
    expect(rollouts).to_contain_text("1 of 3")
    assert rollout.stages == [{"devices": ["bus-1"], "soak_minutes": 60}, {"percent": 50, "soak_minutes": 240},
                              {"percent": 100, "soak_minutes": 240}]
    assert [g["metric"] for g in rollout.gates] == ["inference_ms_p95", "inference_lag", "crashes",
                                                    "confidence_drift", "low_confidence_rate", "count_flag_rate"]
    assert (rollout.model_id, rollout.previous_id, rollout.created_by.username) == (candidate.pk, champion.pk, "dana")
    candidate.refresh_from_db()
    assert candidate.status == ModelStatus.CANDIDATE  # champion only when the last stage completes

    # Over the air: only the canary is offered the new model.
    offered = {name: poll(name) for name in tokens}
    assert offered == {name: candidate.sha256 if name == "bus-1" else champion.sha256 for name in tokens}

    # Each device reports what it runs; the canary's inference is much slower.
    for name, sha in offered.items():
        answer = httpx.post(f"{app_server.url}/api/v1/heartbeat",
                            headers={"Authorization": f"Bearer {tokens[name]}"},
                            json={"model_sha256": sha, "inference_ms_p50": 30.0,
                                  "inference_ms_p95": 120.0 if sha == candidate.sha256 else 40.0,
                                  "fps": 15.0, "inference_fps": 15.0, "crashes": 0})
        assert answer.status_code == 200, answer.text
    assert evaluate_rollout(rollout.pk) == "halt"  # the beat job's check, run here at once

    page.reload()
    expect(page.get_by_test_id(f"rollout-status-{rollout.pk}")).to_have_text("halted")
    expect(page.get_by_test_id(f"rollout-check-{rollout.pk}")).to_contain_text("inference_ms_p95 120 vs 40")
    expect(page.get_by_test_id(f"rollout-pause-{rollout.pk}")).to_have_count(0)  # nothing left to act on
    screenshot(page, "rollouts")

    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.HALTED and rollout.finished_at is not None
    assert [g["metric"] for g in rollout.halt_reason["gates"]] == ["inference_ms_p95"]
    assert {poll(name) for name in tokens} == {champion.sha256}
    assert list(AuditEvent.objects.filter(object_type="rollout").order_by("id").values_list("action", flat=True)) == [
        "rollout.started", "rollout.halted"]

    # A pin: bus-2 runs the new model while the investigation goes on, whatever rollouts say.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("pin-add").click()
    expect(page.get_by_test_id("pin-target-error")).to_contain_text("Choose a device or a site")
    bus2 = Device.objects.get(name="bus-2")
    page.get_by_label("Device or site").select_option(f"device:{bus2.pk}")
    page.get_by_label("Model version").select_option(str(candidate.pk))
    page.get_by_label("Note").fill("ticket 88: check the new model on the rear door")
    page.get_by_test_id("pin-add").click()
    expect(page.get_by_test_id("pin-list")).to_contain_text("device bus-2 on people-det v2")
    pin = ModelPin.objects.get()
    assert (pin.device_id, pin.model_id, pin.note) == (bus2.pk, candidate.pk,
                                                       "ticket 88: check the new model on the rear door")
    assert poll("bus-2") == candidate.sha256 and poll("bus-3") == champion.sha256
    page.get_by_test_id(f"pin-remove-{pin.pk}").click()
    expect(page.get_by_test_id("pin-none")).to_be_visible()
    assert not ModelPin.objects.exists() and poll("bus-2") == champion.sha256
    assert AuditEvent.objects.filter(action__in=["model.pinned", "model.unpinned"]).count() == 2
