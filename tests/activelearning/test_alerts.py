"""Alerts (docs/alerts.md): each kind opens once on simulated heartbeats and events, stays open while its
condition holds, resolves when it clears; a silence holds for its period; `alert.opened` / `alert.resolved`
are delivered once each; bad input is refused beside its field with nothing stored. Runs on PostgreSQL and,
through tests/test_sqlite_mode.py, on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activelearning.alerts import rules
from activelearning.alerts.models import Alert, AlertRule
from activelearning.alerts.selectors import alert_summary
from activelearning.alerts.services import sweep
from activelearning.monitoring.models import DriftState
from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.rollouts.models import Rollout, RolloutStatus
from activelearning.webhooks.models import Webhook, WebhookDelivery
from annotations.models import AuditEvent, Camera, Device
from annotations.services import create_device
from tests.factories import add_member, as_user, make_device_kit, make_project

pytestmark = pytest.mark.django_db

GOOD = {"fps": 15.0, "inference_fps": 15.0, "disk_free_bytes": 20_000_000_000, "disk_total_bytes": 32_000_000_000,
        "outbox_depth": 0, "outbox_oldest_age_seconds": 0.0, "watchdog_restarts": 0,
        "cameras": [{"name": "door-1", "status": "ok", "fps": 15.0, "last_frame_age_seconds": 0.1}]}


@pytest.fixture
def kit():
    kit = make_device_kit()
    add_member(kit.project, "dana", "admin")
    add_member(kit.project, "rita", "reviewer")
    add_member(kit.project, "alice", "annotator")
    other = make_project("elsewhere")
    add_member(other, "charlie", "admin")
    return kit


@pytest.fixture
def hook(kit):
    return Webhook.objects.create(project=kit.project, url="https://example.com/h", secret="s" * 32,
                                  events=["alert.opened", "alert.resolved"])


def beat(kit, **health):
    response = kit.client.post("/api/v1/heartbeat", data={**GOOD, **health}, content_type="application/json",
                               **kit.headers())
    assert response.status_code == 200, response.content
    return response


def deliveries(event: str, kind: str | None = None) -> int:
    rows = WebhookDelivery.objects.filter(event=event)
    return sum(1 for d in rows if kind is None or d.payload["kind"] == kind)


def open_alerts(kind: str) -> list[Alert]:
    return list(Alert.objects.filter(kind=kind, resolved_at__isnull=True))


# --- each kind fires once, stays open, resolves -------------------------------------------------------------


def test_a_silent_device_opens_one_alert_that_stays_open_and_resolves_on_its_next_heartbeat(kit, hook):
    beat(kit)
    assert sweep()["opened"] == {}
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=11))
    first = sweep()
    assert first["opened"] == {rules.NO_HEARTBEAT: 1}
    for _ in range(3):
        assert sweep()["opened"] == {}
    [alert] = Alert.objects.all()
    assert (alert.subject_type, alert.subject_id, alert.subject_label, alert.site_id, alert.severity) == (
        "device", kit.device.pk, kit.device.name, kit.device.site_id, "critical")
    assert alert.resolved_at is None
    assert deliveries("alert.opened") == 1

    beat(kit)
    assert sweep()["resolved"] == {rules.NO_HEARTBEAT: 1}
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert sweep()["resolved"] == {}
    assert (deliveries("alert.opened"), deliveries("alert.resolved")) == (1, 1)
    payload = WebhookDelivery.objects.get(event="alert.resolved").payload
    assert payload["alert"] == alert.pk and payload["kind"] == rules.NO_HEARTBEAT and payload["resolved_at"]


@pytest.mark.parametrize(("kind", "bad", "subject"), [
    (rules.INFERENCE_BEHIND, {"fps": 15.0, "inference_fps": 6.0}, "device"),
    (rules.DISK_NEARLY_FULL, {"disk_free_bytes": 1_000_000_000, "disk_total_bytes": 32_000_000_000}, "device"),
    (rules.OUTBOX_BACKLOG, {"outbox_depth": 900, "outbox_oldest_age_seconds": 45 * 60.0}, "device"),
    (rules.CAMERA_OFFLINE, {"cameras": [{"name": "door-1", "status": "offline", "fps": 0.0,
                                         "message": "no frames"}]}, "camera"),
    (rules.CAMERA_OFFLINE, {"cameras": [{"name": "door-1", "status": "ok", "fps": 15.0,
                                         "last_frame_age_seconds": 600.0}]}, "camera"),
])
def test_a_heartbeat_reporting_trouble_opens_once_and_a_good_one_resolves(kit, hook, kind, bad, subject):
    beat(kit)
    assert sweep()["open"] == {}
    beat(kit, **bad)
    assert sweep()["opened"] == {kind: 1}
    beat(kit, **bad)
    assert sweep()["opened"] == {}
    [alert] = open_alerts(kind)
    assert alert.subject_type == subject
    beat(kit)
    assert sweep()["resolved"] == {kind: 1}
    assert open_alerts(kind) == []
    assert (deliveries("alert.opened", kind), deliveries("alert.resolved", kind)) == (1, 1)


def test_a_watchdog_restart_opens_an_alert_that_resolves_once_the_window_has_passed(kit, hook):
    beat(kit, watchdog_restarts=3)
    beat(kit, watchdog_restarts=3)
    assert sweep()["opened"] == {}
    beat(kit, watchdog_restarts=4)
    assert sweep()["opened"] == {rules.WATCHDOG_FIRED: 1}
    [alert] = open_alerts(rules.WATCHDOG_FIRED)
    assert alert.details == {"restarts": 1}
    assert sweep()["opened"] == {}
    later = sweep(now=timezone.now() + timedelta(minutes=61))
    assert later["resolved"] == {rules.WATCHDOG_FIRED: 1}
    assert (deliveries("alert.opened", rules.WATCHDOG_FIRED), deliveries("alert.resolved", rules.WATCHDOG_FIRED)) \
        == (1, 1)


def drift(camera: Camera, **figures) -> None:
    DriftState.objects.update_or_create(camera=camera, defaults={
        "project_id": camera.site.project_id, "computed_at": timezone.now(), **figures})


def test_drift_over_its_thresholds_alerts_per_camera_and_per_site_and_resolves_when_it_falls_back(kit, hook):
    camera = Camera.objects.get(name="door-1")
    second = create_device(project=kit.project, site_name="Main St", camera_names=["door-2"]).device.cameras.get()
    reference = [40, 40, 40, 40, 40, 0, 0, 0, 0, 0]
    shifted = [0, 0, 0, 0, 0, 40, 40, 40, 40, 40]
    drift(camera, psi=0.9, correction_rate=0.8, count_error=3.5, histogram_reference=reference,
          histogram_current=shifted)
    drift(second, psi=0.05, correction_rate=None, count_error=None, histogram_reference=reference,
          histogram_current=shifted)
    outcome = sweep()
    assert outcome["opened"] == {rules.DRIFT_PSI_CAMERA: 1, rules.DRIFT_CORRECTION_RATE: 1,
                                 rules.DRIFT_COUNT_ERROR: 1, rules.DRIFT_PSI_SITE: 1}
    [site_alert] = open_alerts(rules.DRIFT_PSI_SITE)
    assert (site_alert.subject_type, site_alert.subject_id) == ("site", camera.site_id)
    assert site_alert.details["psi"] > 0.2
    assert {a.subject_id for a in open_alerts(rules.DRIFT_PSI_CAMERA)} == {camera.pk}
    assert sweep()["opened"] == {}
    drift(camera, psi=0.05, correction_rate=0.1, count_error=None, histogram_reference=reference,
          histogram_current=reference)
    drift(second, psi=0.05, histogram_reference=reference, histogram_current=reference)
    # count_error None: too few flags to say, which is no evidence of drift either: it resolves.
    assert sweep()["resolved"] == {rules.DRIFT_PSI_CAMERA: 1, rules.DRIFT_CORRECTION_RATE: 1,
                                   rules.DRIFT_COUNT_ERROR: 1, rules.DRIFT_PSI_SITE: 1}
    assert deliveries("alert.opened") == deliveries("alert.resolved") == 4


def model(project, n: int, status: str = ModelStatus.CANDIDATE) -> ModelVersion:
    return ModelVersion.objects.create(project=project, name="det", version=n, file=f"models/{n}.onnx",
                                       sha256=f"{project.pk:032x}{n:032x}", size_bytes=1, input_width=64,
                                       input_height=64, classes=["person"], status=status, opset=17)


def test_a_halted_rollout_alerts_until_a_newer_rollout_starts(kit, hook):
    champion, candidate = model(kit.project, 1, ModelStatus.CHAMPION), model(kit.project, 2)
    halted = Rollout.objects.create(project=kit.project, model=candidate, previous=champion, stages=[], gates=[],
                                    stage_started_at=timezone.now(), status=RolloutStatus.HALTED,
                                    halt_reason={"gates": [{"metric": "crashes"}]})
    assert sweep()["opened"] == {rules.ROLLOUT_HALTED: 1}
    [alert] = open_alerts(rules.ROLLOUT_HALTED)
    assert (alert.subject_type, alert.subject_id, alert.site_id) == ("rollout", halted.pk, None)
    assert sweep()["opened"] == {}
    Rollout.objects.create(project=kit.project, model=model(kit.project, 3), previous=champion, stages=[],
                           gates=[], stage_started_at=timezone.now())
    assert sweep()["resolved"] == {rules.ROLLOUT_HALTED: 1}


def test_a_disabled_rule_resolves_its_open_alerts_and_opens_no_more(kit, hook):
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    response = as_user("dana").put(f"/api/v1/projects/{kit.project.pk}/alert-rules",
                                   {"rules": [{"kind": rules.NO_HEARTBEAT, "enabled": False}]}, format="json")
    assert response.status_code == 200, response.content
    assert sweep()["resolved"] == {rules.NO_HEARTBEAT: 1}
    assert sweep()["opened"] == {}


def test_a_threshold_change_takes_effect_at_the_next_sweep(kit):
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=20))
    response = as_user("dana").put(f"/api/v1/projects/{kit.project.pk}/alert-rules",
                                   {"rules": [{"kind": rules.NO_HEARTBEAT, "params": {"minutes": 30}}]}, format="json")
    assert response.status_code == 200, response.content
    rule = next(r for r in response.json() if r["kind"] == rules.NO_HEARTBEAT)
    assert rule["params"] == {"minutes": 30} and rule["updated_by"] == "dana"
    assert sweep()["opened"] == {}
    assert AuditEvent.objects.filter(action="alert_rule.updated").count() == 1


# --- silence ------------------------------------------------------------------------------------------------


def test_a_silence_keeps_the_alert_and_its_reopenings_out_of_the_bell_and_the_webhooks_for_its_period(kit, hook):
    now = timezone.now()
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=now - timedelta(minutes=30))
    sweep(now=now)
    [alert] = Alert.objects.all()
    url = f"/api/v1/projects/{kit.project.pk}/alerts"
    assert as_user("dana").get(f"{url}/summary").json()["open"] == 1
    response = as_user("dana").post(f"{url}/{alert.pk}/silence", {"minutes": 60, "reason": "site closed today"},
                                    format="json")
    assert response.status_code == 200, response.content
    assert response.json()["silenced"] is True and response.json()["silenced_by"] == "dana"
    summary = as_user("dana").get(f"{url}/summary").json()
    assert (summary["open"], summary["silenced"], summary["unacknowledged"]) == (0, 1, 0)

    # The device flaps within the silence: it comes back (resolved, announced: its opening was), goes silent
    # again; the new alert inherits the silence and is announced to nobody.
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=now + timedelta(minutes=5))
    assert sweep(now=now + timedelta(minutes=6))["resolved"] == {rules.NO_HEARTBEAT: 1}
    assert sweep(now=now + timedelta(minutes=20))["opened"] == {rules.NO_HEARTBEAT: 1}
    reopened = Alert.objects.get(resolved_at__isnull=True)
    assert (reopened.silence_reason, reopened.silenced_by.username) == ("site closed today", "dana")
    assert reopened.silenced_until == Alert.objects.get(pk=alert.pk).silenced_until
    assert (deliveries("alert.opened"), deliveries("alert.resolved")) == (1, 1)
    assert alert_summary(Alert.objects.all(), now=now + timedelta(minutes=30))["open"] == 0

    # After the period, still open: it counts again and is announced, once.
    after = reopened.silenced_until + timedelta(seconds=1)
    assert sweep(now=after)["notified_after_silence"] == 1
    assert sweep(now=after + timedelta(minutes=1))["notified_after_silence"] == 0
    assert deliveries("alert.opened") == 2
    assert alert_summary(Alert.objects.all(), now=after)["open"] == 1
    assert AuditEvent.objects.filter(action="alert.silenced", object_id=str(alert.pk)).count() == 1


def test_an_alert_born_silenced_that_resolves_within_the_silence_sends_nothing(kit, hook):
    now = timezone.now()
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=now - timedelta(minutes=30))
    sweep(now=now)
    alert = Alert.objects.get()
    as_user("dana").post(f"/api/v1/projects/{kit.project.pk}/alerts/{alert.pk}/silence",
                         {"minutes": 120, "reason": "maintenance"}, format="json")
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=now + timedelta(minutes=1))
    sweep(now=now + timedelta(minutes=2))
    sweep(now=now + timedelta(minutes=20))  # silent again: born silenced
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=now + timedelta(minutes=21))
    sweep(now=now + timedelta(minutes=22))  # back within the silence
    assert Alert.objects.count() == 2 and not Alert.objects.filter(resolved_at__isnull=True).exists()
    assert (deliveries("alert.opened"), deliveries("alert.resolved")) == (1, 1)  # only the first alert's pair


def test_acknowledging_records_who_when_and_the_note(kit):
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    alert = Alert.objects.get()
    url = f"/api/v1/projects/{kit.project.pk}/alerts"
    response = as_user("dana").post(f"{url}/{alert.pk}/acknowledge", {"note": "driving there"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["acknowledged_by"], response.json()["acknowledge_note"]) == ("dana", "driving there")
    assert as_user("dana").get(f"{url}/summary").json()["unacknowledged"] == 0
    assert as_user("dana").get(f"{url}/summary").json()["open"] == 1


# --- the API: lists, access, bad input ----------------------------------------------------------------------


def test_the_list_filters_by_status_and_kind_and_pages(kit):
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1),
                                                   disk_free_bytes=1, disk_total_bytes=100)
    sweep()
    beat(kit)
    sweep()
    url = f"/api/v1/projects/{kit.project.pk}/alerts"
    assert as_user("rita").get(url).json()["count"] == 0
    everything = as_user("rita").get(url, {"status": "all"}).json()
    assert everything["count"] == 2
    assert {r["kind"] for r in as_user("rita").get(url, {"status": "resolved"}).json()["results"]} == {
        rules.NO_HEARTBEAT, rules.DISK_NEARLY_FULL}
    assert as_user("rita").get(url, {"status": "all", "kind": rules.DISK_NEARLY_FULL}).json()["count"] == 1
    page = as_user("rita").get(url, {"status": "all", "page_size": 1, "page": 2}).json()
    assert (page["count"], len(page["results"]), page["page"]) == (2, 1, 2)


def test_access_outsider_404_annotator_403_reviewer_reads_but_does_not_act(kit):
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    alert = Alert.objects.get()
    base = f"/api/v1/projects/{kit.project.pk}"
    assert as_user("charlie").get(f"{base}/alerts").status_code == 404
    assert as_user("charlie").post(f"{base}/alerts/{alert.pk}/silence", {"minutes": 5, "reason": "x"},
                                   format="json").status_code == 404
    assert as_user(None).get(f"{base}/alerts/summary").status_code in (401, 403)
    assert as_user("alice").get(f"{base}/alerts").status_code == 403
    assert as_user("rita").get(f"{base}/alerts").status_code == 200
    assert as_user("rita").post(f"{base}/alerts/{alert.pk}/acknowledge", {}, format="json").status_code == 403
    assert as_user("rita").put(f"{base}/alert-rules", {"rules": [{"kind": rules.NO_HEARTBEAT, "enabled": False}]},
                               format="json").status_code == 403
    other = make_project("third")
    add_member(other, "dana2", "admin")
    assert as_user("dana2").post(f"/api/v1/projects/{other.pk}/alerts/{alert.pk}/acknowledge", {},
                                 format="json").status_code == 404
    assert Alert.objects.get().acknowledged_at is None


def test_a_store_manager_sees_only_their_sites_alerts(kit):
    far = create_device(project=kit.project, site_name="Far Rd", camera_names=["gate"])
    add_member(kit.project, "mia", "manager", sites=[far.device.site])
    Device.objects.filter(project=kit.project).update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    url = f"/api/v1/projects/{kit.project.pk}/alerts"
    listed = as_user("mia").get(url).json()
    assert [r["subject_label"] for r in listed["results"]] == [far.device.name]
    assert as_user("mia").get(f"{url}/summary").json()["open"] == 1
    assert as_user("dana").get(f"{url}/summary").json()["open"] == 2


@pytest.mark.parametrize(("body", "field"), [
    ({"minutes": 0, "reason": "x"}, "minutes"),
    ({"minutes": 10081, "reason": "x"}, "minutes"),
    ({"minutes": "soon", "reason": "x"}, "minutes"),
    ({"minutes": 30}, "reason"),
    ({"minutes": 30, "reason": ""}, "reason"),
    ({"minutes": 30, "reason": "x" * 501}, "reason"),
    ({"minutes": 30, "reason": "x", "forever": True}, "forever"),
])
def test_a_bad_silence_is_400_beside_the_field_and_stores_nothing(kit, body, field):
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    alert = Alert.objects.get()
    response = as_user("dana").post(f"/api/v1/projects/{kit.project.pk}/alerts/{alert.pk}/silence", body,
                                    format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["details"]
    alert.refresh_from_db()
    assert (alert.silenced_until, alert.silence_reason) == (None, "")
    assert not AuditEvent.objects.filter(action="alert.silenced").exists()


def test_a_note_too_long_is_400_and_a_resolved_alert_cannot_be_acted_on(kit):
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    alert = Alert.objects.get()
    url = f"/api/v1/projects/{kit.project.pk}/alerts/{alert.pk}"
    response = as_user("dana").post(f"{url}/acknowledge", {"note": "n" * 501}, format="json")
    assert response.status_code == 400 and "note" in response.json()["error"]["details"]
    assert Alert.objects.get().acknowledged_at is None
    beat(kit)
    sweep()
    response = as_user("dana").post(f"{url}/silence", {"minutes": 5, "reason": "late"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "alert_resolved"


@pytest.mark.parametrize(("change", "where"), [
    ({"kind": "moon_phase", "enabled": True}, "kind"),
    ({"kind": rules.NO_HEARTBEAT, "params": {"minutes": -5}}, "minutes"),
    ({"kind": rules.NO_HEARTBEAT, "params": {"minutes": 2.5}}, "minutes"),
    ({"kind": rules.NO_HEARTBEAT, "params": {"hours": 5}}, "hours"),
    ({"kind": rules.DISK_NEARLY_FULL, "params": {"free_percent": "low"}}, "free_percent"),
    ({"kind": rules.INFERENCE_BEHIND, "params": {"ratio": 3}}, "ratio"),
])
def test_a_bad_rule_change_is_400_beside_the_rule_and_stores_nothing(kit, change, where):
    good = {"kind": rules.OUTBOX_BACKLOG, "params": {"minutes": 5}}
    response = as_user("dana").put(f"/api/v1/projects/{kit.project.pk}/alert-rules", {"rules": [good, change]},
                                   format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert where in str(response.json()["error"]["details"]["rules"]["1"])
    assert not AlertRule.objects.filter(params__minutes=5).exists()
    assert not AuditEvent.objects.filter(action="alert_rule.updated").exists()


def test_every_kind_has_a_default_rule_written_on_first_read(kit):
    response = as_user("dana").get(f"/api/v1/projects/{kit.project.pk}/alert-rules")
    assert response.status_code == 200
    assert [r["kind"] for r in response.json()] == list(rules.KINDS)
    assert AlertRule.objects.filter(project=kit.project).count() == len(rules.KINDS)
    assert next(r for r in response.json() if r["kind"] == rules.NO_HEARTBEAT)["params"] == {"minutes": 10}


# --- set-based ----------------------------------------------------------------------------------------------


def test_the_sweep_costs_the_same_queries_for_3_or_30_silent_devices(kit):
    def queries_for_a_steady_sweep() -> int:
        sweep()  # opens what is new
        with CaptureQueriesContext(connection) as queries:
            sweep()
        return len(queries)

    for i in range(2):
        create_device(project=kit.project, site_name="Main St", camera_names=[f"cam-{i}"])
    Device.objects.update(last_seen_at=timezone.now() - timedelta(hours=1))
    few = queries_for_a_steady_sweep()
    for i in range(27):
        create_device(project=kit.project, site_name="Main St", camera_names=[f"more-{i}"])
    Device.objects.update(last_seen_at=timezone.now() - timedelta(hours=1))
    many = queries_for_a_steady_sweep()
    assert Alert.objects.filter(kind=rules.NO_HEARTBEAT, resolved_at__isnull=True).count() == 30
    assert many == few <= 15


def test_the_sweep_tells_the_projects_browsers_after_commit_only_when_something_changed(
        kit, monkeypatch, django_capture_on_commit_callbacks):
    from reviewer import realtime

    sent: list[tuple[int, dict]] = []
    monkeypatch.setattr(realtime, "_send", lambda project_id, payload, group: sent.append((project_id, payload)))
    Device.objects.filter(pk=kit.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    assert sent == [(kit.project.pk, {"type": "alerts.changed"})]
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    assert len(sent) == 1


def test_managers_count_flags_through_drift_monitoring_open_a_count_error_alert_that_resolves_when_they_age_out(
        kit, hook):
    from django.contrib.auth.models import User

    from activelearning.monitoring.drift import compute_drift
    from reviewer.models import CountFlag, ReviewItem

    camera = Camera.objects.get(name="door-1")
    now = timezone.now()
    for observed, model_count in ((9, 4), (1, 6), (12, 7)):
        item = ReviewItem.objects.create(project=kit.project, site=camera.site, camera=camera, reason="count_flag",
                                         priority=0.5)
        flag = CountFlag.objects.create(project=kit.project, camera=camera, flagged_by=User.objects.get(username="dana"),
                                        window_start=now - timedelta(hours=2), window_end=now - timedelta(hours=1),
                                        observed_count=observed, model_count=model_count, review_item=item)
        CountFlag.objects.filter(pk=flag.pk).update(created_at=now - timedelta(hours=1))
    compute_drift(project=kit.project, now=now)
    assert sweep(now=now)["opened"] == {rules.DRIFT_COUNT_ERROR: 1}
    [alert] = open_alerts(rules.DRIFT_COUNT_ERROR)
    assert (alert.subject_id, alert.details["count_error"]) == (camera.pk, 5.0)

    later = now + timedelta(days=2)  # the flags left the current window: no evidence of a count error any more
    Device.objects.update(last_seen_at=later)
    compute_drift(project=kit.project, now=later)
    assert sweep(now=later)["resolved"] == {rules.DRIFT_COUNT_ERROR: 1}
    assert (deliveries("alert.opened", rules.DRIFT_COUNT_ERROR), deliveries("alert.resolved", rules.DRIFT_COUNT_ERROR)) \
        == (1, 1)


def test_the_list_and_the_summary_cost_the_same_queries_for_2_or_20_alerts(kit):
    url = f"/api/v1/projects/{kit.project.pk}/alerts"
    client = as_user("dana")

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path, {"status": "all"}).status_code == 200
        return len(captured)

    create_device(project=kit.project, site_name="Main St", camera_names=["side"])
    Device.objects.update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    few = (queries(url), queries(f"{url}/summary"))
    for i in range(18):
        create_device(project=kit.project, site_name="Main St", camera_names=[f"extra-{i}"])
    Device.objects.update(last_seen_at=timezone.now() - timedelta(hours=1))
    sweep()
    assert Alert.objects.count() == 20
    assert (queries(url), queries(f"{url}/summary")) == few
