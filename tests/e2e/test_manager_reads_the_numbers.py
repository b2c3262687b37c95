"""A store manager scoped to one site opens Numbers: only their site's camera is listed, the error rate shown is
the one the stored reviewed flags give, the chart draws, and the CSV they download holds exactly the stored
counts of their camera (model count per day from the device's count events, corrected count from the flags)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict

import pytest
from django.contrib.auth.models import User
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import expect

from annotations.models import Camera, Prediction, Site
from reviewer import flags
from reviewer.models import CountFlag, FlagStatus
from tests.e2e.helpers import add_browser_member, post_events, sign_in
from tests.factories import make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = {"name": "people-det", "version": "3", "sha256": "c" * 64}
NEW_MODEL = {"name": "people-det", "version": "4", "sha256": "d" * 64}


def day(days_ago: int, hour: int) -> dt.datetime:
    today = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days_ago) + dt.timedelta(hours=hour)


def counts(camera: str, values: dict[int, int]) -> list[dict[str, object]]:
    """One count event at 10:15 UTC on each of the days ago given, with its value."""
    return [{"id": f"{camera}-{ago}", "type": "count", "camera": camera, "count": {"name": "in", "value": value},
             "captured_at": day(ago, 10).replace(minute=15).isoformat(), "model": MODEL}
            for ago, value in values.items()]


def reviewed_flag(camera: Camera, days_ago: int, reviewed: int) -> None:
    flag = flags.create_count_flag(camera=camera, user=User.objects.get(username="dana"),
                                   window=flags.Window(start=day(days_ago, 10), end=day(days_ago, 11)),
                                   observed_count=reviewed)
    CountFlag.objects.filter(pk=flag.pk).update(status=FlagStatus.REVIEWED, reviewed_count=reviewed,
                                                reviewed_at=timezone.now())


def test_manager_reads_their_sites_numbers_and_downloads_them(page, app_server, make_user, screenshot):
    project = make_project("store-counts")
    main_kit = make_device_kit(project, site="Main St", camera="door-1")
    harbour_kit = make_device_kit(project, site="Harbour Rd", camera="door-9")
    post_events(app_server.url, main_kit, counts("door-1", {4: 12, 3: 20, 2: 9, 1: 15}))
    post_events(app_server.url, harbour_kit, counts("door-9", {3: 40}))
    # Yesterday afternoon a new model took over (outside the flagged 10:00-11:00 window).
    post_events(app_server.url, main_kit, [{"id": "door-1-new", "type": "count", "camera": "door-1",
                                           "count": {"name": "in", "value": 30}, "model": NEW_MODEL,
                                           "captured_at": day(1, 14).isoformat()}])
    door1 = Camera.objects.get(site__project=project, name="door-1")
    door9 = Camera.objects.get(site__project=project, name="door-9")
    add_browser_member(make_user, project, "dana", "admin")
    # Reviews settled: 3 days ago the model said 20 and it was 24; 2 days ago 9 was right; 1 day ago 15 was 13.
    reviewed_flag(door1, 3, 24)
    reviewed_flag(door1, 2, 9)
    reviewed_flag(door1, 1, 13)
    reviewed_flag(door9, 3, 10)
    main_st = Site.objects.get(project=project, name="Main St")
    password = add_browser_member(make_user, project, "maria", "manager", sites=[main_st])

    sign_in(page, "maria", password, then=f"/#/projects/{project.pk}")
    page.get_by_test_id("nav-numbers").click()
    table = page.get_by_test_id("numbers-table")
    expect(page.get_by_test_id(f"numbers-row-{door1.pk}")).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(1)  # Harbour Rd is not hers
    expect(page.get_by_test_id(f"numbers-row-{door9.pk}")).to_have_count(0)

    # The figures the stored flags give: 2 of 3 windows wrong, |24-20| + |13-15| = 6 over 46 corrected.
    stored = list(CountFlag.objects.filter(camera=door1, status=FlagStatus.REVIEWED))
    wrong = sum(f.reviewed_count != f.model_count for f in stored)
    corrected = sum(f.reviewed_count for f in stored)
    error = sum(abs(f.reviewed_count - f.model_count) for f in stored)
    assert (wrong, len(stored), corrected, error) == (2, 3, 46, 6)
    expect(page.get_by_test_id(f"numbers-error-rate-{door1.pk}")).to_have_text(f"{100 * wrong / len(stored):.1f}%")
    expect(page.get_by_test_id(f"numbers-relative-error-{door1.pk}")).to_have_text(f"{100 * error / corrected:.1f}%")
    expect(page.get_by_test_id(f"numbers-corrected-{door1.pk}")).to_have_text(str(corrected))
    expect(page.get_by_test_id(f"numbers-model-count-{door1.pk}")).to_have_text("86")
    expect(page.get_by_test_id(f"numbers-model-{door1.pk}")).to_contain_text("people-det v4")
    expect(page.get_by_test_id("numbers-model-changes")).to_contain_text("people-det v4 from")
    expect(page.get_by_test_id(f"numbers-trend-{door1.pk}")).to_contain_text("error")
    expect(page.get_by_test_id("numbers-chart").locator(".u-over")).to_be_visible()
    screenshot(page, "numbers-manager")

    with page.expect_download() as download_info:
        page.get_by_test_id("numbers-csv").click()
    download = download_info.value
    body = open(download.path(), encoding="utf-8").read()  # noqa: PTH123, SIM115
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["camera_name"] for r in rows} == {"door-1"}
    model_per_day: dict[str, int] = defaultdict(int)
    for moment, value in (Prediction.objects.filter(camera=door1, event_type="count")
                          .values_list("captured_at", "count_value")):
        model_per_day[moment.astimezone(dt.UTC).strftime("%Y-%m-%dT00:00:00Z")] += value
    csv_per_day: dict[str, int] = defaultdict(int)
    for r in rows:
        csv_per_day[r["bucket_start"]] += int(r["model_count"])
    assert csv_per_day == model_per_day
    reviewed_per_day = {f.window_start.astimezone(dt.UTC).strftime("%Y-%m-%dT00:00:00Z"): f.reviewed_count
                        for f in stored}
    assert {r["bucket_start"]: int(r["corrected_count"]) for r in rows if r["corrected_count"]} == reviewed_per_day
    assert sum(int(r["model_count"]) for r in rows) == Prediction.objects.filter(
        camera=door1, event_type="count").aggregate(total=Sum("count_value"))["total"]
    assert {(r["model_sha256"], r["model_name"]) for r in rows} == {(MODEL["sha256"], "people-det v3"),
                                                                     (NEW_MODEL["sha256"], "people-det v4")}
