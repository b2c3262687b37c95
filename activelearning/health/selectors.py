"""Reads over device telemetry: one device's figures over a range in buckets, and every device's short series
for the Devices page's sparklines (docs/health.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Avg
from django.db.models.functions import Trunc

from activelearning.health.buckets import BUCKETS, FIGURES, bucketize
from activelearning.health.models import DeviceTelemetry
from annotations.errors import NotFound
from annotations.models import Device, Project, Role
from annotations.selectors import access_project, project_devices

# The sparklines' figures: latency, how much of what the cameras deliver inference keeps up with, the backlog.
SUMMARY_FIGURES = ("inference_ms_p95", "fps", "inference_fps", "outbox_depth")


def access_project_device(*, user: AbstractBaseUser | AnonymousUser, project_id: int, device_id: int) -> Device:
    """A device of project `project_id` (with its site and cameras) for one of its admins: 404 for an outsider,
    for a device of another project or none; 403 for a member in another role (as the devices list)."""
    project, _ = access_project(user=user, project_id=project_id, roles=[Role.ADMIN])
    device = project_devices(project=project).filter(pk=device_id).first()
    if device is None:
        raise NotFound("Not found.")
    return device


@dataclass(frozen=True)
class DeviceSeries:
    since: datetime
    until: datetime
    bucket: str
    bucket_seconds: int
    sample_count: int
    series: dict[str, list[Any]]


def device_series(*, device: Device, since: datetime, until: datetime, bucket: str) -> DeviceSeries:
    """The device's samples in [since, until) in buckets of `bucket` (a BUCKETS name; the caller bounds the
    number of buckets). Two queries: the samples (by the (device, received_at) index) and the one before."""
    seconds = BUCKETS[bucket]
    in_range = DeviceTelemetry.objects.filter(device=device, received_at__gte=since, received_at__lt=until)
    rows = list(in_range.order_by("received_at", "pk").values_list("received_at", *FIGURES))
    before = (DeviceTelemetry.objects.filter(device=device, received_at__lt=since)
              .order_by("-received_at", "-pk").values_list(*FIGURES).first())
    samples = [(row[0], dict(zip(FIGURES, row[1:], strict=True))) for row in rows]
    baseline = dict(zip(FIGURES, before, strict=True)) if before is not None else None
    series = bucketize(samples, since=since, until=until, seconds=seconds, baseline=baseline)
    return DeviceSeries(since=since, until=until, bucket=bucket, bucket_seconds=seconds,
                        sample_count=len(rows), series=series)


def telemetry_summary(*, project: Project, hours: int, now: datetime) -> dict[str, Any]:
    """Hourly averages of SUMMARY_FIGURES over the last `hours` hours (the current hour last) for every device
    of the project: two queries however many devices (the ids, then one grouped aggregate)."""
    end_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end_hour - timedelta(hours=hours - 1)
    grid = [int((start + timedelta(hours=i)).timestamp()) for i in range(hours)]
    position = {t: i for i, t in enumerate(grid)}
    device_ids = list(Device.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    series: dict[int, dict[str, list[float | None]]] = {
        pk: {name: [None] * hours for name in SUMMARY_FIGURES} for pk in device_ids}
    # Trunc is the portable hour bucket (date_trunc on PostgreSQL, Django's own function on SQLite).
    grouped = (DeviceTelemetry.objects.filter(device__project=project, received_at__gte=start)
               .annotate(hour=Trunc("received_at", "hour", tzinfo=UTC)).values("device_id", "hour")
               .annotate(**{f"avg_{name}": Avg(name) for name in SUMMARY_FIGURES}).order_by())
    rows: list[dict[str, Any]] = [dict(row) for row in grouped]
    for row in rows:
        index = position.get(int(row["hour"].timestamp()))
        if index is None or row["device_id"] not in series:
            continue
        for name in SUMMARY_FIGURES:
            value = row[f"avg_{name}"]
            series[row["device_id"]][name][index] = round(value, 3) if value is not None else None
    return {"hours": hours, "bucket_seconds": 3600, "t": grid,
            "devices": [{"device": pk, **series[pk]} for pk in device_ids]}
