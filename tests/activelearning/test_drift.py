"""Drift monitoring: the PSI maths against hand-computed values; a camera whose device confidences shift fires
exactly one alert (audit event, signed `drift.alert` webhook, `drift.alert` WebSocket push), stays quiet while
it stays drifted, re-arms after it recovers; people's corrections and count flags alert the same way; too few
samples alert nothing; the admins' and reviewers' API."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.db import connection

from activelearning.metrics import confidence_histogram, psi
from activelearning.monitoring import drift
from activelearning.monitoring.drift import Windows, compute_drift, compute_drift_everywhere, next_alerting
from activelearning.monitoring.models import DriftPolicy, DriftState
from activelearning.webhooks import services as webhooks
from activelearning.webhooks.models import Webhook, WebhookDelivery
from activelearning.webhooks.services import deliver_due
from annotations.models import Annotation, AuditEvent, Camera, Prediction, Project, Site, Verdict
from reviewer.models import CountFlag, ItemStatus, ReviewItem
from reviewer.realtime import project_group
from tests.activelearning.test_webhooks import Receiver, receiver  # noqa: F401 (the receiver fixture)
from tests.factories import add_member, as_user, make_asset, make_device_kit, make_project

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
HEALTHY = (0.82, 0.86, 0.9, 0.94, 0.97)  # five boxes a frame, the model sure of itself
SHIFTED = (0.32, 0.38, 0.45, 0.51, 0.58)  # the same scene, the model unsure (new lighting, a moved camera)
SECRET = "d" * 40


# --- The maths ----------------------------------------------------------------------------------------------


def test_identical_distributions_have_zero_psi():
    assert psi([10, 20, 30, 40], [10, 20, 30, 40]) == 0.0
    assert psi([10, 20, 30, 40], [1, 2, 3, 4]) == pytest.approx(0.0, abs=1e-12)  # shape, not size


def test_a_known_shift_has_the_hand_computed_psi():
    # 50/50 → 80/20: (0.8 − 0.5)·ln(0.8/0.5) + (0.2 − 0.5)·ln(0.2/0.5)
    assert psi([50, 50], [80, 20]) == pytest.approx(0.3 * math.log(1.6) + 0.3 * math.log(2.5))
    assert psi([50, 50], [80, 20]) == pytest.approx(0.415888, abs=1e-6)


def test_a_bin_empty_in_one_window_takes_epsilon_instead_of_infinity():
    value = psi([100, 0], [50, 50], eps=1e-4)
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert value == pytest.approx(expected)
    assert math.isfinite(value)


def test_psi_refuses_empty_or_mismatched_histograms():
    with pytest.raises(ValueError, match="non-empty"):
        psi([0, 0], [1, 1])
    with pytest.raises(ValueError, match="shape"):
        psi([1, 1, 1], [1, 1])


def test_an_alerting_metric_re_arms_only_clearly_under_its_threshold():
    """Hysteresis: 0.19 against 0.2 keeps the alert (no second alert when it crosses again); 0.15 re-arms."""
    limits = {"psi": 0.2}
    alerting = next_alerting({}, {"psi": 0.21}, limits, now="t1")
    assert next_alerting(alerting, {"psi": 0.19}, limits, now="t2") == {"psi": "t1"}
    assert next_alerting(alerting, {"psi": 0.15}, limits, now="t2") == {}
    assert next_alerting({}, {"psi": 0.19}, limits, now="t2") == {}  # a metric not alerting needs the threshold


def test_confidence_histogram_has_fixed_bins_and_clips():
    counts = confidence_histogram([0.0, 0.05, 0.1, 0.3, 0.95, 1.0, 1.2, -0.1], bins=10)
    assert counts.tolist() == [3, 1, 0, 1, 0, 0, 0, 0, 0, 3]
    assert confidence_histogram([], bins=4).tolist() == [0, 0, 0, 0]


def test_alerting_enters_stays_with_its_first_time_keeps_state_without_samples_and_re_arms():
    limits = {"psi": 0.2, "correction_rate": 0.5}
    first = next_alerting({}, {"psi": 0.9, "correction_rate": 0.1}, limits, now="t1")
    assert first == {"psi": "t1"}
    assert next_alerting(first, {"psi": 0.5, "correction_rate": None}, limits, now="t2") == {"psi": "t1"}
    assert next_alerting(first, {"psi": None, "correction_rate": None}, limits, now="t2") == {"psi": "t1"}
    assert next_alerting(first, {"psi": 0.05, "correction_rate": 0.6}, limits, now="t3") == {"correction_rate": "t3"}


# --- Building data ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _quiet_kicks(monkeypatch) -> None:
    """The webhook kick after commit is not run: the delivery test sends with `deliver_due` itself."""
    monkeypatch.setattr(webhooks, "kick_delivery", lambda: None)


@pytest.fixture
def project(db) -> Project:
    kit = make_device_kit(make_project("store-counts"))
    project = kit.project
    add_member(project, "dana", "admin")
    add_member(project, "bob", "reviewer")
    add_member(project, "alice", "annotator")
    add_member(make_project("bus-clips"), "charlie", "admin")
    DriftPolicy.objects.create(project=project, min_boxes=100, min_reviews=4, min_flags=2)
    Webhook.objects.create(project=project, url="http://127.0.0.1:9/hooks", secret=SECRET, events=["drift.alert"])
    return project


def camera_of(project: Project, name: str = "door-1") -> Camera:
    return Camera.objects.get(site__project=project, name=name)


def predictions(camera: Camera, start: dt.datetime, end: dt.datetime, *, every: dt.timedelta,
                scores: tuple[float, ...]) -> int:
    """Device predictions of `camera` from `start` to `end`, one every `every`, each with a box per score."""
    project_id = camera.site.project_id
    rows, at = [], start
    while at < end:
        rows.append(Prediction(
            project_id=project_id, device_id=camera.device_id, camera=camera, source="device",
            event_id=f"{camera.pk}-{at.isoformat()}-{scores[0]}", event_type="prediction", payload_hash="x",
            captured_at=at, received_at=at, detection_count=len(scores),
            detections=[{"label": "person", "score": s, "box": [10.0 * i, 20.0, 25.0, 60.0]}
                        for i, s in enumerate(scores)]))
        at += every
    Prediction.objects.bulk_create(rows)
    return len(rows)


def healthy(camera: Camera, start: dt.datetime, end: dt.datetime) -> None:
    predictions(camera, start, end, every=HOUR, scores=HEALTHY)


def shifted(camera: Camera, start: dt.datetime, end: dt.datetime) -> None:
    predictions(camera, start, end, every=HOUR, scores=SHIFTED)


def alerts(project: Project) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(project=project, action="drift.alert").order_by("pk"))


def run(project: Project, now: dt.datetime, capture) -> list[DriftState]:
    """compute_drift as the sweep runs it, its after-commit callbacks (the pushes) run too."""
    with capture(execute=True):
        return compute_drift(project=project, now=now)


@pytest.fixture
def listener():
    """A channel subscribed to the project's realtime group; `received()` drains what was pushed to it."""
    layer = get_channel_layer()
    channels: list[tuple[str, str]] = []

    class Listener:
        def join(self, project: Project) -> Listener:
            channel = async_to_sync(layer.new_channel)()
            async_to_sync(layer.group_add)(project_group(project.pk), channel)
            channels.append((project_group(project.pk), channel))
            return self

        def received(self) -> list[dict[str, Any]]:
            out = []

            async def drain() -> None:
                import asyncio

                while True:
                    try:
                        message = await asyncio.wait_for(layer.receive(channels[0][1]), timeout=0.3)
                    except TimeoutError:
                        return
                    out.append(message["payload"])

            async_to_sync(drain)()
            return out

    yield Listener()
    for group, channel in channels:
        async_to_sync(layer.group_discard)(group, channel)


# --- Alerts on transitions --------------------------------------------------------------------------------------


def test_a_camera_whose_confidence_shifts_alerts_once_with_audit_webhook_and_push(
        project, postgres, django_capture_on_commit_callbacks, listener):
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - DAY, NOW)
    listener.join(project)

    [state] = run(project, NOW, django_capture_on_commit_callbacks)

    assert state.psi is not None and state.psi > 5  # every current box is in bins the reference never used
    assert set(state.alerting) == {"psi"}
    assert state.boxes_reference == 7 * 24 * 5 and state.boxes_current == 24 * 5
    assert state.histogram_reference[8:] == [2 * 168, 3 * 168] and state.histogram_current[3:6] == [48, 24, 48]
    [event] = alerts(project)
    assert event.object_type == "camera" and event.object_id == str(camera.pk)
    assert event.after["metrics"] == ["psi"] and event.after["camera_name"] == "door-1"
    [delivery] = WebhookDelivery.objects.filter(event="drift.alert")
    assert delivery.payload["camera"] == camera.pk and delivery.payload["values"]["psi"] == pytest.approx(state.psi)
    assert json.loads(webhooks.delivery_body(delivery))["event"] == "drift.alert"
    [push] = [m for m in listener.received() if m["type"] == "drift.alert"]
    assert push["camera"] == camera.pk and push["metrics"] == ["psi"] and push["site_name"] == "Main St"


def test_the_alert_webhook_reaches_the_receiver_signed(project, postgres, receiver: Receiver, settings,  # noqa: F811
                                                        django_capture_on_commit_callbacks):
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS, settings.DEBUG = ["127.0.0.1"], True
    Webhook.objects.filter(project=project).update(url=receiver.url)
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - DAY, NOW)
    run(project, NOW, django_capture_on_commit_callbacks)

    assert deliver_due() == {"delivered": 1}
    [(headers, body)] = receiver.received
    assert headers["X-Loupe-Event"] == "drift.alert"
    assert headers["X-Loupe-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    sent = json.loads(body)
    assert sent["event"] == "drift.alert" and sent["data"]["camera"] == camera.pk and sent["data"]["metrics"] == ["psi"]


def test_a_second_run_while_still_drifted_alerts_nothing_more(project, django_capture_on_commit_callbacks, listener):
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - DAY, NOW + HOUR)
    run(project, NOW, django_capture_on_commit_callbacks)
    since = DriftState.objects.get(camera=camera).alerting["psi"]
    listener.join(project)

    [state] = run(project, NOW + HOUR, django_capture_on_commit_callbacks)

    assert state.alerting == {"psi": since}
    assert len(alerts(project)) == 1
    assert WebhookDelivery.objects.filter(event="drift.alert").count() == 1
    assert [m for m in listener.received() if m["type"] == "drift.alert"] == []


def test_recovery_re_arms_and_the_next_shift_alerts_again(project, django_capture_on_commit_callbacks):
    # No `postgres` mark: this one also runs on the embedded SQLite mode (binning in Python).
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - DAY, NOW)
    run(project, NOW, django_capture_on_commit_callbacks)
    # A week of normal frames later, the shifted day has left the reference window too.
    healthy(camera, NOW, NOW + 9 * DAY)
    [state] = run(project, NOW + 9 * DAY, django_capture_on_commit_callbacks)
    assert state.alerting == {} and state.psi == pytest.approx(0.0, abs=1e-9)
    assert AuditEvent.objects.filter(action="drift.recovered", object_id=str(camera.pk)).count() == 1

    shifted(camera, NOW + 9 * DAY, NOW + 10 * DAY)
    run(project, NOW + 10 * DAY, django_capture_on_commit_callbacks)

    assert len(alerts(project)) == 2
    assert WebhookDelivery.objects.filter(event="drift.alert").count() == 2


def test_too_few_samples_alert_nothing(project, postgres, django_capture_on_commit_callbacks):
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - 3 * HOUR, NOW)  # 15 boxes: under the policy's 100

    [state] = run(project, NOW, django_capture_on_commit_callbacks)

    assert state.psi is None and state.boxes_current == 15
    assert state.alerting == {}
    assert alerts(project) == [] and not WebhookDelivery.objects.exists()


def test_only_the_drifting_camera_alerts(project, postgres, django_capture_on_commit_callbacks):
    door, till = camera_of(project), Camera.objects.create(site=camera_of(project).site, name="till-2")
    healthy(door, NOW - 8 * DAY, NOW)
    healthy(till, NOW - 8 * DAY, NOW - DAY)
    shifted(till, NOW - DAY, NOW)

    states = {s.camera_id: s for s in run(project, NOW, django_capture_on_commit_callbacks)}

    assert states[door.pk].alerting == {} and states[door.pk].psi == pytest.approx(0.0, abs=1e-9)
    assert set(states[till.pk].alerting) == {"psi"}
    assert [a.object_id for a in alerts(project)] == [str(till.pk)]


def accepted_review(project: Project, camera: Camera, *, diff: dict[str, int], verdict: str = Verdict.CORRECT,
                    at: dt.datetime) -> None:
    author = User.objects.get(username="alice")
    asset = make_asset(f"review-{ReviewItem.objects.count()}")
    item = ReviewItem.objects.create(project=project, asset=asset, site=camera.site, camera=camera,
                                     reason="low_confidence", priority=0.5, status=ItemStatus.ACCEPTED, accepted_at=at)
    Annotation.objects.create(project=project, asset=asset, review_item_id=item.pk, version=1, author=author,
                              verdict=verdict, diff=diff, submitted_at=at)


def count_flag(project: Project, camera: Camera, *, observed: int, model: int, at: dt.datetime,
               raised: dt.datetime | None = None) -> None:
    """A manager's flag of the hour ending `at`, raised at `raised` (by default: then)."""
    item = ReviewItem.objects.create(project=project, site=camera.site, camera=camera, reason="count_flag",
                                     priority=0.5)
    flag = CountFlag.objects.create(project=project, camera=camera, flagged_by=User.objects.get(username="dana"),
                                    window_start=at - HOUR, window_end=at, observed_count=observed,
                                    model_count=model, review_item=item)
    CountFlag.objects.filter(pk=flag.pk).update(created_at=raised or at)


def test_corrections_and_count_flags_alert_from_what_people_saw(project, postgres,
                                                                django_capture_on_commit_callbacks):
    camera = camera_of(project)
    changed, unchanged = {"added": 1, "removed": 0, "moved": 0}, {"added": 0, "removed": 0, "moved": 0}
    for diff in (changed, changed, changed, unchanged):
        accepted_review(project, camera, diff=diff, at=NOW - 2 * HOUR)
    # An `unusable` frame says nothing about the model; a `correct` verdict that changed nothing is no correction.
    accepted_review(project, camera, diff=changed, verdict=Verdict.UNUSABLE, at=NOW - 2 * HOUR)
    accepted_review(project, camera, diff=unchanged, verdict=Verdict.CORRECT, at=NOW - 2 * HOUR)
    accepted_review(project, camera, diff=changed, at=NOW - 3 * DAY)  # outside the current window
    count_flag(project, camera, observed=7, model=4, at=NOW - HOUR)
    count_flag(project, camera, observed=2, model=7, at=NOW - HOUR)
    # Raised now about last week's counts: it speaks of the model then, not of the current window.
    count_flag(project, camera, observed=40, model=0, at=NOW - 5 * DAY, raised=NOW - HOUR)

    [state] = run(project, NOW, django_capture_on_commit_callbacks)

    assert (state.reviews, state.corrections) == (5, 3)
    assert state.correction_rate == pytest.approx(0.6)
    assert (state.flags, state.count_error) == (2, pytest.approx(4.0))
    assert state.psi is None
    assert set(state.alerting) == {"correction_rate", "count_error"}
    [event] = alerts(project)
    assert event.after["metrics"] == ["correction_rate", "count_error"]


def test_one_flag_is_too_few_for_a_count_error(project, postgres, django_capture_on_commit_callbacks):
    camera = camera_of(project)
    count_flag(project, camera, observed=30, model=2, at=NOW - HOUR)
    [state] = run(project, NOW, django_capture_on_commit_callbacks)
    assert state.flags == 1 and state.count_error is None and state.alerting == {}


def test_sql_and_python_paths_take_the_same_bounded_sample(project, postgres):
    camera = camera_of(project)
    predictions(camera, NOW - 2 * DAY, NOW, every=dt.timedelta(minutes=10), scores=(0.1, 0.55, 0.9))
    predictions(camera, NOW - 2 * DAY + dt.timedelta(minutes=5), NOW, every=HOUR, scores=(0.3, 1.0))
    policy = DriftPolicy(project=project, current_window_hours=12, reference_window_days=1)
    windows = Windows.of(policy, NOW)

    in_sql = drift._score_histograms_sql(project_id=project.pk, windows=windows, per_hour=2, bins=10)
    in_python = drift._score_histograms_python(project_id=project.pk, windows=windows, per_hour=2, bins=10)

    assert in_sql.keys() == in_python.keys() == {camera.pk}
    for a, b in zip(in_sql[camera.pk], in_python[camera.pk], strict=True):
        np.testing.assert_array_equal(a, b)
    reference, current = in_sql[camera.pk]
    # Two predictions an hour, the latest (minutes 50 and 40), three boxes each: the cap holds.
    assert reference.sum() == 24 * 2 * 3 and current.sum() == 12 * 2 * 3
    assert reference[1] == reference[5] == reference[9] == 48 and reference[3] == 0


def test_the_sweep_skips_projects_whose_drift_is_disabled(project, postgres):
    other = make_device_kit(make_project("other"), camera="gate").project
    DriftPolicy.objects.create(project=other, enabled=False)
    computed = compute_drift_everywhere(now=NOW)
    assert computed[project.pk] == 1 and other.pk not in computed


@pytest.mark.django_db(transaction=True)
def test_concurrent_computations_fire_one_alert(postgres):
    project = make_device_kit(make_project("race")).project
    DriftPolicy.objects.create(project=project, min_boxes=100)
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - DAY, NOW)
    barrier = threading.Barrier(4)

    def compute(_: int) -> None:
        try:
            barrier.wait(timeout=30)
            compute_drift(project=project, now=NOW)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(compute, range(4)))
    assert len(alerts(project)) == 1


# --- API ------------------------------------------------------------------------------------------------------------


def test_admins_and_reviewers_see_each_cameras_drift(project, postgres, django_capture_on_commit_callbacks):
    camera = camera_of(project)
    healthy(camera, NOW - 8 * DAY, NOW - DAY)
    shifted(camera, NOW - DAY, NOW)
    run(project, NOW, django_capture_on_commit_callbacks)
    for name in ("dana", "bob"):
        response = as_user(name).get(f"/api/v1/projects/{project.pk}/drift/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["bins"] == 10 and body["policy"]["psi_threshold"] == 0.2 and body["policy"]["min_boxes"] == 100
        [row] = body["cameras"]
        assert row["camera"] == camera.pk and row["site_name"] == "Main St" and row["psi"] > 5
        assert len(row["histogram_reference"]) == len(row["histogram_current"]) == 10
        assert [a["metric"] for a in row["alerting"]] == ["psi"] and row["alerting"][0]["since"]


def test_a_camera_not_computed_yet_is_listed_without_metrics(project):
    body = as_user("dana").get(f"/api/v1/projects/{project.pk}/drift/").json()
    [row] = body["cameras"]
    assert row["computed_at"] is None and row["psi"] is None and row["alerting"] == []


@pytest.mark.parametrize(("name", "status"), [("alice", 403), ("charlie", 404), (None, 401)])
def test_others_may_not_watch_drift(project, name, status):
    for method, path in (("get", "drift/"), ("get", "drift/policy"), ("patch", "drift/policy"),
                         ("post", "drift/compute")):
        response = getattr(as_user(name), method)(f"/api/v1/projects/{project.pk}/{path}", {}, format="json")
        assert response.status_code == status, (method, path)
        assert response.json()["error"]["code"]


def test_reviewers_watch_but_do_not_change_the_policy_or_recompute(project):
    bob = as_user("bob")
    assert bob.patch(f"/api/v1/projects/{project.pk}/drift/policy", {"psi_threshold": 0.3},
                     format="json").status_code == 403
    assert bob.post(f"/api/v1/projects/{project.pk}/drift/compute").status_code == 403
    assert DriftPolicy.objects.get(project=project).psi_threshold == 0.2


def test_an_admin_changes_the_policy_and_it_is_audited(project):
    response = as_user("dana").patch(f"/api/v1/projects/{project.pk}/drift/policy",
                                        {"psi_threshold": 0.25, "current_window_hours": 12}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["psi_threshold"] == 0.25 and response.json()["updated_by"] == "dana"
    policy = DriftPolicy.objects.get(project=project)
    assert (policy.psi_threshold, policy.current_window_hours, policy.min_boxes) == (0.25, 12, 100)
    event = AuditEvent.objects.get(action="drift_policy.updated")
    assert event.before["psi_threshold"] == 0.2 and event.after["psi_threshold"] == 0.25


def test_the_first_policy_change_stores_the_defaults_for_the_rest(db):
    project = make_project("fresh")
    add_member(project, "dana", "admin")
    assert as_user("dana").get(f"/api/v1/projects/{project.pk}/drift/policy").json()["psi_threshold"] == 0.2
    as_user("dana").patch(f"/api/v1/projects/{project.pk}/drift/policy", {"min_flags": 5}, format="json")
    policy = DriftPolicy.objects.get(project=project)
    assert (policy.min_flags, policy.psi_threshold, policy.reference_window_days) == (5, 0.2, 7)


@pytest.mark.parametrize("body", [
    {"psi_threshold": -1}, {"psi_threshold": 0}, {"correction_rate_threshold": 1.5}, {"min_boxes": 0},
    {"current_window_hours": 0}, {"reference_window_days": 365}, {"count_error_threshold": "lots"},
    {"psi_treshold": 0.3}, {"psi_threshold": 0.3, "enabled": "maybe"},
])
def test_bad_policy_input_is_refused_and_nothing_is_stored(project, body):
    before = DriftPolicy.objects.filter(project=project).values().get()
    response = as_user("dana").patch(f"/api/v1/projects/{project.pk}/drift/policy", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert set(response.json()["error"]["details"]) <= set(body)
    assert DriftPolicy.objects.filter(project=project).values().get() == before
    assert not AuditEvent.objects.filter(action="drift_policy.updated").exists()


def test_an_admin_recomputes_now(project, postgres):
    camera = camera_of(project)
    healthy(camera, dt.datetime.now(dt.UTC) - 8 * DAY, dt.datetime.now(dt.UTC) - DAY)
    shifted(camera, dt.datetime.now(dt.UTC) - DAY, dt.datetime.now(dt.UTC))
    response = as_user("dana").post(f"/api/v1/projects/{project.pk}/drift/compute")
    assert response.status_code == 200
    assert [a["metric"] for a in response.json()["cameras"][0]["alerting"]] == ["psi"]


def test_the_drift_list_costs_the_same_queries_for_many_cameras(project, django_assert_num_queries):
    site = camera_of(project).site
    client = as_user("dana")
    url = f"/api/v1/projects/{project.pk}/drift/"
    with django_assert_num_queries(3):  # membership, policy, cameras with site and snapshot
        assert len(client.get(url).json()["cameras"]) == 1
    other_site = Site.objects.create(project=project, name="Depot")
    for i in range(6):
        camera = Camera.objects.create(site=other_site if i % 2 else site, name=f"cam-{i}")
        DriftState.objects.create(camera=camera, project=project, psi=0.1, histogram_reference=[1] * 10,
                                  histogram_current=[1] * 10, alerting={"psi": NOW.isoformat()})
    with django_assert_num_queries(3):
        assert len(client.get(url).json()["cameras"]) == 7
