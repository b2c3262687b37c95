"""Device health API (docs/health.md): one device's telemetry in buckets and every device's sparklines, for
project admins only; bad input is a 400 beside its field, never a 500. Runs on SQLite too (tests/test_sqlite_mode.py):
the hour buckets are Trunc, which each database spells differently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from activelearning.health.api import DeviceSparklinesSerializer, TelemetrySeriesSerializer
from activelearning.health.buckets import FIGURES, MAX_POINTS, auto_bucket, bucketize
from activelearning.health.models import DeviceTelemetry
from activelearning.health.selectors import SUMMARY_FIGURES
from annotations.models import Camera, Device
from tests.factories import DeviceKit, add_member, as_user, make_device_kit, make_project

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def kit() -> DeviceKit:
    kit = make_device_kit(make_project("store-counts"))
    add_member(kit.project, "dana", "admin")
    add_member(kit.project, "alice", "annotator")
    add_member(kit.project, "mo", "manager", sites=[kit.device.site])
    other = make_device_kit(make_project("bus-boarding"), camera="bus-1")
    add_member(other.project, "charlie", "admin")
    return kit


def heartbeat(kit: DeviceKit, **figures: object) -> None:
    body = {"software_version": "1.4.2", **figures}
    response = kit.client.post("/api/v1/heartbeat", data=body, content_type="application/json", **kit.headers())
    assert response.status_code == 200, response.content


def sample(device: Device, at: datetime, **figures: float | int) -> DeviceTelemetry:
    return DeviceTelemetry.objects.create(device=device, received_at=at, **figures)


def telemetry_url(kit: DeviceKit, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/projects/{kit.project.pk}/devices/{kit.device.pk}/telemetry?{params}"


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


# --- Buckets -------------------------------------------------------------------------------------------------


def test_gauges_are_averaged_and_counters_become_their_increase_per_bucket(kit):
    sample(kit.device, T0 - timedelta(minutes=30), dropped_frames=100, watchdog_restarts=2)  # the baseline
    sample(kit.device, T0 + timedelta(minutes=1), inference_ms_p95=80.0, fps=15.0, dropped_frames=110,
           watchdog_restarts=2)
    sample(kit.device, T0 + timedelta(minutes=4), inference_ms_p95=100.0, fps=13.0, dropped_frames=130,
           watchdog_restarts=3)
    sample(kit.device, T0 + timedelta(minutes=12), inference_ms_p95=60.0, dropped_frames=5,  # reset: reinstalled
           watchdog_restarts=3)
    response = as_user("dana").get(telemetry_url(kit, since=iso(T0), until=iso(T0 + timedelta(minutes=15)),
                                                 bucket="5m"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["bucket"], body["bucket_seconds"], body["sample_count"]) == ("5m", 300, 3)
    series = body["series"]
    assert series["t"] == [int(T0.timestamp()) + i * 300 for i in range(3)]
    assert series["samples"] == [2, 0, 1]
    assert series["inference_ms_p95"] == [90.0, None, 60.0]
    assert series["fps"] == [14.0, None, None]
    assert series["dropped_frames"] == [30, None, 5]
    assert series["watchdog_restarts"] == [1, None, 0]
    assert body["device"]["id"] == kit.device.pk and body["device"]["cameras"][0]["name"] == "door-1"


def test_without_a_bucket_the_finest_within_the_point_cap_is_chosen():
    assert auto_bucket(T0, T0 + timedelta(hours=1)) == "1m"
    assert auto_bucket(T0, T0 + timedelta(hours=24)) == "5m"
    assert auto_bucket(T0, T0 + timedelta(days=7)) == "30m"
    assert auto_bucket(T0, T0 + timedelta(days=31)) == "6h"


def test_buckets_align_to_the_utc_grid_and_a_range_off_grid_is_covered():
    series = bucketize([(T0 + timedelta(minutes=7), {"fps": 5.0})], since=T0 + timedelta(minutes=2),
                       until=T0 + timedelta(minutes=11), seconds=300)
    assert series["t"] == [int(T0.timestamp()) + i * 300 for i in range(3)]
    assert series["fps"] == [None, 5.0, None]


def test_the_default_range_is_the_last_day_of_real_heartbeats(kit):
    heartbeat(kit, fps=12.0, inference_fps=8.0, inference_ms_p95=70.0, outbox_depth=4, dropped_frames=3)
    heartbeat(kit, fps=14.0, inference_fps=10.0, inference_ms_p95=90.0, outbox_depth=6, dropped_frames=9)
    body = as_user("dana").get(telemetry_url(kit)).json()
    assert body["bucket"] == "5m" and body["sample_count"] == 2 == DeviceTelemetry.objects.count()
    assert len(body["series"]["t"]) <= MAX_POINTS
    assert [v for v in body["series"]["fps"] if v is not None] == [13.0]
    assert [v for v in body["series"]["dropped_frames"] if v is not None] == [6]


def test_every_figure_has_its_series_field():
    assert set(FIGURES) <= set(TelemetrySeriesSerializer().fields)
    assert set(SUMMARY_FIGURES) <= set(DeviceSparklinesSerializer().fields)


# --- Sparklines ----------------------------------------------------------------------------------------------


def test_the_summary_gives_every_device_hourly_series_in_two_queries(kit, django_assert_num_queries):
    second = make_device_kit(kit.project, site="Depot", camera="gate-1")
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    sample(kit.device, hour + timedelta(seconds=1), inference_ms_p95=50.0, fps=10.0, inference_fps=10.0,
           outbox_depth=2)
    sample(kit.device, hour + timedelta(seconds=2), inference_ms_p95=70.0, fps=12.0, inference_fps=8.0,
           outbox_depth=4)
    sample(kit.device, hour - timedelta(hours=3), inference_ms_p95=40.0)
    sample(kit.device, hour - timedelta(hours=30), inference_ms_p95=999.0)  # before the window
    sample(second.device, hour - timedelta(minutes=30), outbox_depth=100)
    client = as_user("dana")
    client.get(f"/api/v1/projects/{kit.project.pk}/devices/telemetry-summary")  # session/auth caches warm
    with django_assert_num_queries(3):  # the membership, the device ids, the grouped averages
        response = client.get(f"/api/v1/projects/{kit.project.pk}/devices/telemetry-summary?hours=24")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["hours"] == 24 and len(body["t"]) == 24 and body["t"][-1] == int(hour.timestamp())
    first, other = body["devices"]
    assert (first["device"], other["device"]) == (kit.device.pk, second.device.pk)
    assert first["inference_ms_p95"][-1] == 60.0 and first["inference_ms_p95"][-4] == 40.0
    assert 999.0 not in first["inference_ms_p95"]
    assert (first["fps"][-1], first["inference_fps"][-1], first["outbox_depth"][-1]) == (11.0, 9.0, 3.0)
    assert other["outbox_depth"][-2] == 100.0 and other["inference_ms_p95"] == [None] * 24


# --- Access --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("charlie", 404), ("alice", 403), ("mo", 403), (None, 401)])
def test_only_the_projects_admins_read_device_health(kit, who, status):
    for url in (telemetry_url(kit), f"/api/v1/projects/{kit.project.pk}/devices/telemetry-summary"):
        response = as_user(who).get(url)
        assert response.status_code == status, (url, response.content)
        assert "error" in response.json()


def test_a_device_of_another_project_is_not_found(kit):
    stranger = Device.objects.exclude(project=kit.project).get()
    response = as_user("dana").get(f"/api/v1/projects/{kit.project.pk}/devices/{stranger.pk}/telemetry")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert as_user("dana").get(f"/api/v1/projects/{kit.project.pk}/devices/999999/telemetry").status_code == 404


# --- Bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "field"), [
    ({"since": "2026-11-02T12:00:00Z", "until": "2026-11-02T10:00:00Z"}, "since"),
    ({"since": "2026-11-02T10:00:00Z", "until": "2026-11-02T10:00:00Z"}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-45"}, "until"),
    ({"bucket": "2m"}, "bucket"),
    ({"since": "2026-10-01T00:00:00Z", "until": "2026-11-02T10:00:00Z"}, "since"),  # over 31 days
    ({"since": "2026-11-01T00:00:00Z", "until": "2026-11-02T10:00:00Z", "bucket": "1m"}, "bucket"),  # > 500
    ({"until": "0001-01-01T05:00:00Z"}, "until"),  # no day before it
    ({"since": "2026-11-02T10:00:00+25:00"}, "since"),
])
def test_bad_telemetry_queries_are_400_beside_their_field(kit, query, field):
    response = as_user("dana").get(telemetry_url(kit, **query))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("hours", ["0", "49", "day", "-3"])
def test_bad_summary_hours_are_400(kit, hours):
    response = as_user("dana").get(f"/api/v1/projects/{kit.project.pk}/devices/telemetry-summary?hours={hours}")
    assert response.status_code == 400 and "hours" in response.json()["error"]["details"]


def test_ranges_at_the_ends_of_the_calendar_are_answered(kit):
    for since, until in (("0001-01-01T00:00:00Z", "0001-01-01T01:00:00Z"),
                         ("9999-12-31T00:00:00Z", "9999-12-31T23:59:59Z")):
        response = as_user("dana").get(telemetry_url(kit, since=since, until=until))
        assert response.status_code == 200, response.content
        assert response.json()["sample_count"] == 0


def test_a_heartbeat_reports_an_offline_camera_the_detail_shows(kit):
    heartbeat(kit, fps=0.0, cameras=[{"name": "door-1", "status": "offline", "last_frame_age_seconds": 90.0}])
    body = as_user("dana").get(telemetry_url(kit)).json()
    assert body["device"]["cameras"][0]["status"]["status"] == "offline"
    assert Camera.objects.get(device=kit.device).status["last_frame_age_seconds"] == 90.0
