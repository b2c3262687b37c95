"""An admin watches a device's health: the device posts real heartbeats with its token (each leaves a telemetry
sample), the Devices page shows its sparklines and its offline camera standing out, and the device's page charts
the figures over the last day, hour and week with as many points as the stored samples fill buckets, the watchdog
restart marked."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activelearning.health.models import DeviceTelemetry
from annotations.models import Camera
from annotations.services import create_device
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_project

pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEATS = 12
SPACING = timedelta(minutes=5)


def heartbeat(server_url: str, token: str, i: int) -> None:
    """The figures a Raspberry Pi would report: latency creeping up, inference falling behind the cameras, a
    backlog building, one watchdog restart half way, and the till camera going dark in the last beat."""
    till = ({"name": "till-2", "status": "offline", "fps": 0.0, "last_frame_age_seconds": 95.0,
             "message": "no frames for 95 s"} if i == HEARTBEATS - 1 else {"name": "till-2", "status": "ok", "fps": 10.0})
    body = {"software_version": "1.5.0", "uptime_seconds": 3600 + i * 300, "fps": 15.0, "inference_fps": 12.0 - i * 0.3,
            "inference_ms_p50": 40.0 + i, "inference_ms_p95": 80.0 + 2 * i, "dropped_frames": 10 * i,
            "temperature_c": 55.0 + i * 0.5, "memory_used_bytes": 1_200_000_000 + i * 10_000_000,
            "memory_total_bytes": 2_000_000_000, "disk_free_bytes": 20_000_000_000 - i * 1_000_000,
            "disk_total_bytes": 32_000_000_000, "outbox_depth": i * 3, "outbox_oldest_age_seconds": i * 20.0,
            "crashes": 0, "watchdog_restarts": 0 if i < HEARTBEATS // 2 else 1,
            "cameras": [{"name": "door-1", "status": "ok", "fps": 15.0, "inference_fps": 12.0}, till]}
    response = httpx.post(f"{server_url}/api/v1/heartbeat", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


def filled_buckets(seconds: int, since_s: float) -> int:
    """How many buckets of `seconds` the stored samples fall in (the points a chart must draw)."""
    return len({math.floor(at.timestamp() / seconds) for at in
                DeviceTelemetry.objects.values_list("received_at", flat=True) if at.timestamp() >= since_s})


def test_admin_sees_sparklines_and_an_offline_camera_then_charts_over_time(browser, app_server, make_user,
                                                                            screenshot):
    project = make_project("health-store")
    issued = create_device(project=project, site_name="Main St", camera_names=["door-1", "till-2"],
                           device_name="pi-main-st")
    device = issued.device
    for i in range(HEARTBEATS):
        heartbeat(app_server.url, issued.token, i)
    assert DeviceTelemetry.objects.filter(device=device).count() == HEARTBEATS
    # The beats came in a burst; spread their samples over the last hour, five minutes apart, as a device
    # heartbeating all along would have left them (the oldest first, 57 minutes ago: inside the last hour).
    latest = timezone.now() - timedelta(minutes=2)
    for i, sample in enumerate(DeviceTelemetry.objects.filter(device=device).order_by("received_at", "pk")):
        DeviceTelemetry.objects.filter(pk=sample.pk).update(received_at=latest - (HEARTBEATS - 1 - i) * SPACING)
    till = Camera.objects.get(device=device, name="till-2")
    assert till.status["status"] == "offline"

    password = add_browser_member(make_user, project, "dana", "admin")
    context = browser.new_context(base_url=app_server.url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/devices")
        row = page.get_by_test_id(f"device-{device.pk}")
        expect(row).to_be_visible()
        expect(page.get_by_test_id(f"device-status-{device.pk}")).to_have_text("online")
        # The offline camera stands out; the healthy one does not.
        expect(page.get_by_test_id(f"camera-chip-{till.pk}")).to_have_text("till-2: offline")
        expect(page.get_by_test_id(f"camera-chip-{till.pk}")).to_have_class("camera-chip camera-offline")
        door = Camera.objects.get(device=device, name="door-1")
        expect(page.get_by_test_id(f"camera-chip-{door.pk}")).to_have_class("camera-chip camera-ok")
        # Sparklines: hourly points of the last day, one per hour the samples fall in.
        hours = str(filled_buckets(3600, 0))
        expect(page.get_by_test_id(f"spark-p95-{device.pk}")).to_have_attribute("data-points", hours)
        expect(page.get_by_test_id(f"spark-fps-{device.pk}")).to_have_attribute("data-points", f"{hours},{hours}")
        expect(page.get_by_test_id(f"spark-outbox-{device.pk}").locator("svg path")).to_have_count(1)
        expect(page.get_by_test_id(f"device-memory-{device.pk}")).to_have_text("66 %")  # 1.31 of 2 GB
        expect(page.get_by_test_id(f"device-watchdog-{device.pk}")).to_have_text("1")
        screenshot(page, "devices-health")

        page.get_by_test_id(f"device-link-{device.pk}").click()
        expect(page.get_by_test_id("device-detail")).to_be_visible()
        expect(page.get_by_role("heading", name="pi-main-st")).to_be_visible()
        expect(page.get_by_test_id(f"camera-row-{till.pk}")).to_contain_text("2 min ago")
        expect(page.get_by_test_id(f"camera-row-{till.pk}")).to_contain_text("no frames for 95 s")

        # The last 24 hours (the default): 5-minute buckets, every sample in its own.
        latency = page.get_by_test_id("chart-latency")
        expect(page.get_by_test_id("range-24h")).to_have_attribute("aria-pressed", "true")
        points = str(filled_buckets(300, 0))
        assert points == str(HEARTBEATS)
        expect(latency).to_have_attribute("data-points", f"{points},{points}")
        # The range rarely starts on the bucket grid: its first bucket is then a partial one.
        expect(latency).to_have_attribute("data-buckets", re.compile(r"^(288|289)$"))
        expect(latency.locator("canvas")).to_have_count(1)  # uPlot drew it
        for chart in ("fps", "dropped", "outbox", "memory", "disk", "temperature"):
            expect(page.get_by_test_id(f"chart-{chart}")).to_have_attribute("data-marks", "1")
        expect(page.get_by_test_id("telemetry-summary")).to_contain_text(f"{HEARTBEATS} samples")
        expect(page.get_by_test_id("telemetry-summary")).to_contain_text("1 watchdog restart")

        # The last hour: minute buckets.
        page.get_by_test_id("range-1h").click()
        expect(page.get_by_test_id("range-1h")).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_test_id("chart-fps")).to_have_attribute("data-buckets", re.compile(r"^(60|61)$"))
        expect(page.get_by_test_id("chart-fps")).to_have_attribute("data-points", f"{points},{points}")
        expect(page.get_by_test_id("chart-temperature").locator("canvas")).to_be_visible()
        screenshot(page, "device-health")

        # The last week: half-hour buckets.
        page.get_by_test_id("range-7d").click()
        week = str(filled_buckets(1800, 0))
        expect(page.get_by_test_id("chart-outbox")).to_have_attribute("data-points", f"{week},{week}")
        expect(page.get_by_test_id("chart-outbox")).to_have_attribute("data-buckets", re.compile(r"^(336|337)$"))
    finally:
        context.close()
    # Watching changed nothing: the samples are the ones the heartbeats stored.
    assert DeviceTelemetry.objects.filter(device=device).count() == HEARTBEATS
