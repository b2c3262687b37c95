"""Count flags: a camera's model counts over time (reads) and a person's flag on a window (write).

A store manager or bus operator looks at `camera_counts`, sees a window where the model's count is wrong
and flags it with the count they saw; `create_count_flag` turns that into a `count_flag` ReviewItem with
the window's frames/clips so a reviewer can correct the boxes/tracks (DESIGN.md, "Count flags").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Avg, Count, IntegerField, Min, Q, QuerySet, Sum, Value
from django.db.models.expressions import Expression
from django.db.models.functions import Cast, Coalesce, ExtractMinute, TruncDay, TruncHour
from django.utils import timezone

from annotations.audit import record
from annotations.dbrouting import reporting_db
from annotations.errors import InvalidInput, NotFound
from annotations.models import SCOPED_ROLES, Annotation, Camera, Membership, Prediction, Role
from annotations.selectors import access_project
from reviewer.models import CountFlag, FlagStatus, ItemStatus, Reason, ReviewItem
from reviewer.realtime import publish, publish_queue_stats

# Bucket name -> width in minutes. Buckets are aligned to UTC (00:00, 00:05, ...), as the frontend draws them.
BUCKETS = {"5m": 5, "15m": 15, "1h": 60, "1d": 1440}
DEFAULT_BUCKET = "1h"
DEFAULT_COUNTS_WINDOW = dt.timedelta(hours=24)
MAX_COUNTS_WINDOW = dt.timedelta(days=31)
# A flag is about something a person watched: a shift at most, and not the future (clock skew allowed).
MAX_FLAG_WINDOW = dt.timedelta(hours=6)
FUTURE_SLACK = dt.timedelta(minutes=5)
# The reviewer needs the window's frames/clips, not an unbounded list on one row.
MAX_FLAG_ASSETS = 200
FLAG_ROLES = (Role.MANAGER, Role.OPERATOR, Role.ADMIN)
FLAG_LIST_ROLES = (Role.MANAGER, Role.OPERATOR, Role.ADMIN, Role.REVIEWER)
FLAG_LIST_LIMIT = 200
COUNT_EVENT = "count"


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime


def access_camera(*, user: AbstractBaseUser | AnonymousUser, camera_id: int,
                  roles: tuple[str, ...] | None = None) -> tuple[Camera, Membership]:
    """The camera and the caller's membership in its project: 404 for non-members and for cameras outside a
    scoped member's sites (no leak of existence), 403 for a member whose role may not do this."""
    camera = Camera.objects.select_related("site__project").filter(pk=camera_id).first()
    if camera is None:
        raise NotFound("Not found.")
    _, membership = access_project(user=user, project_id=camera.site.project_id, roles=roles,
                                   site_id=camera.site_id)
    return camera, membership


def counts_window(*, start: dt.datetime | None, end: dt.datetime | None,
                  now: dt.datetime | None = None) -> Window:
    """The window a counts query covers: defaults to the last 24 hours; refuses reversed or over-long ones."""
    now = now or timezone.now()
    end = end or (start + DEFAULT_COUNTS_WINDOW if start is not None else now)
    start = start or end - DEFAULT_COUNTS_WINDOW
    if end <= start:
        raise InvalidInput("`to` must be after `from`.", code="invalid_window", details={"to": "before from"})
    if end - start > MAX_COUNTS_WINDOW:
        raise InvalidInput(f"The window is longer than {MAX_COUNTS_WINDOW.days} days.", code="window_too_long",
                           details={"max_days": MAX_COUNTS_WINDOW.days})
    return Window(start=start, end=end)


def _bucket_expressions(bucket: str) -> tuple[Expression, Expression]:
    """(hour-or-day start, minute slot within the hour) to GROUP BY; portable to PostgreSQL and SQLite.

    Sub-hour buckets are the hour plus an integer minute slot: integer division of the minute works on both
    databases (the Cast keeps PostgreSQL 14+'s numeric EXTRACT from turning it into a fraction).
    """
    minutes = BUCKETS[bucket]
    if minutes >= 1440:
        return TruncDay("captured_at", tzinfo=dt.UTC), Value(0, output_field=IntegerField())
    hour = TruncHour("captured_at", tzinfo=dt.UTC)
    if minutes >= 60:
        return hour, Value(0, output_field=IntegerField())
    minute = Cast(ExtractMinute("captured_at", tzinfo=dt.UTC), IntegerField())
    return hour, minute / Value(minutes, output_field=IntegerField())


def _bucket_start(base: dt.datetime, slot: Any, bucket: str) -> str:
    start = base.astimezone(dt.UTC) + dt.timedelta(minutes=int(slot) * BUCKETS[bucket])
    return start.isoformat().replace("+00:00", "Z")


def camera_counts(*, camera: Camera, window: Window, bucket: str) -> dict[str, Any]:
    """The camera's count events summed per bucket and count name, and the mean detections per frame.

    Two grouped queries whatever the number of events; empty buckets are left out (the chart fills gaps). A
    chart only: read from the reporting database (the replica when there is one, annotations/dbrouting.py).
    """
    if bucket not in BUCKETS:
        raise InvalidInput("Unknown bucket.", code="invalid_bucket", details={"bucket": sorted(BUCKETS)})
    using = reporting_db()
    base, slot = _bucket_expressions(bucket)
    in_window = Prediction.objects.using(using).filter(camera=camera, captured_at__gte=window.start,
                                                       captured_at__lt=window.end)
    series = (
        count_events(camera=camera, window=window).using(using)
        .annotate(bucket_base=base, bucket_slot=slot)
        .values("bucket_base", "bucket_slot", "count_name")
        .annotate(value=Coalesce(Sum("count_value"), 0), events=Count("id"))
        .order_by("bucket_base", "bucket_slot", "count_name")
    )
    detections = (
        in_window.exclude(event_type=COUNT_EVENT)
        .annotate(bucket_base=base, bucket_slot=slot)
        .values("bucket_base", "bucket_slot")
        .annotate(mean=Avg("detection_count"))
        .order_by("bucket_base", "bucket_slot")
    )
    return {
        "camera": camera.pk,
        "camera_name": camera.name,
        "site": camera.site.name,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "bucket": bucket,
        "series": [
            {"start": _bucket_start(row["bucket_base"], row["bucket_slot"], bucket),
             "count_name": row["count_name"], "value": int(row["value"]), "events": row["events"]}
            for row in series
        ],
        "detections": [
            {"start": _bucket_start(row["bucket_base"], row["bucket_slot"], bucket),
             "mean_detections": round(float(row["mean"]), 4)}
            for row in detections
        ],
    }


def count_events(*, camera: Camera, window: Window) -> QuerySet[Prediction]:
    """The camera's `count` events in the half-open window [start, end): what "the model's count" sums.

    The chart's buckets, the flag form, the stored flag, its review item and QA all count through this one
    filter (via `window_model_count` or, per bucket, `camera_counts`), so they cannot disagree.
    """
    return Prediction.objects.filter(camera=camera, event_type=COUNT_EVENT, captured_at__gte=window.start,
                                     captured_at__lt=window.end)


def window_model_count(*, camera: Camera, window: Window) -> int:
    """The model's count in a window: the sum of the camera's count events in [start, end), all count names."""
    total: int = count_events(camera=camera, window=window).aggregate(
        total=Coalesce(Sum("count_value"), 0))["total"]
    return total


def window_preview(*, camera: Camera, window: Window) -> dict[str, Any]:
    """What the flag form shows before sending: the model's count and how many frames/clips the reviewer
    will get, computed exactly as `create_count_flag` will store them."""
    return {"camera": camera.pk, "from": window.start.isoformat(), "to": window.end.isoformat(),
            "model_count": window_model_count(camera=camera, window=window),
            "assets": len(_window_assets(camera=camera, window=window))}


def flag_window(*, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> Window:
    """A flaggable window: ordered, at most MAX_FLAG_WINDOW long, not in the future (beyond clock skew)."""
    now = now or timezone.now()
    if end <= start:
        raise InvalidInput("`to` must be after `from`.", code="invalid_window", details={"to": "before from"})
    if end - start > MAX_FLAG_WINDOW:
        hours = int(MAX_FLAG_WINDOW.total_seconds() // 3600)
        raise InvalidInput(f"A flag covers at most {hours} hours.", code="window_too_long",
                           details={"max_hours": hours})
    if end > now + FUTURE_SLACK:
        raise InvalidInput("The window is in the future.", code="window_in_future", details={"to": "future"})
    return Window(start=start, end=end)


def _window_asset_rows(*, camera: Camera, window: Window) -> list[dict[str, Any]]:
    """The window's distinct frames/clips in order of first appearance, capped: one grouped query."""
    return [dict(row) for row in (
        Prediction.objects.filter(camera=camera, captured_at__gte=window.start, captured_at__lt=window.end,
                                  asset__isnull=False)
        .values("asset_id", "asset__sha256", "asset__kind")
        .annotate(first_seen=Min("captured_at"))
        .order_by("first_seen", "asset_id")[:MAX_FLAG_ASSETS]
    )]


def _window_assets(*, camera: Camera, window: Window) -> list[tuple[int, str]]:
    """The window's distinct frames/clips as (id, sha256), in order of first appearance, capped."""
    return [(row["asset_id"], row["asset__sha256"]) for row in _window_asset_rows(camera=camera, window=window)]


def relative_error(*, observed: int, model_count: int) -> float:
    """|observed - model| / max(observed, 1), clipped to [0, 1]: the item's priority."""
    return min(1.0, abs(observed - model_count) / max(observed, 1))


@transaction.atomic
def create_count_flag(*, camera: Camera, user: User, window: Window, observed_count: int,
                      note: str = "", request_id: str = "") -> CountFlag:
    """Store the flag and queue a `count_flag` ReviewItem holding the window's frames/clips.

    The caller has checked access (`access_camera` with FLAG_ROLES) and the window (`flag_window`).
    """
    project_id = camera.site.project_id
    model_count = window_model_count(camera=camera, window=window)
    assets = _window_assets(camera=camera, window=window)
    error = relative_error(observed=observed_count, model_count=model_count)
    item = ReviewItem.objects.create(
        project_id=project_id, site_id=camera.site_id, camera=camera,
        asset_id=assets[0][0] if assets else None, reason=Reason.COUNT_FLAG, priority=round(error, 6),
        score_parts={"observed": observed_count, "model_count": model_count, "relative_error": round(error, 6)},
    )
    flag = CountFlag.objects.create(
        project_id=project_id, camera=camera, flagged_by=user, window_start=window.start,
        window_end=window.end, observed_count=observed_count, model_count=model_count, note=note,
        assets=[sha for _, sha in assets], review_item=item,
    )
    record(action="flag.created", obj_type="count_flag", obj_id=flag.pk, project_id=project_id, actor=user,
           after={"camera": camera.pk, "from": window.start.isoformat(), "to": window.end.isoformat(),
                  "observed_count": observed_count, "model_count": model_count, "review_item": item.pk,
                  "assets": len(assets)},
           request_id=request_id)
    publish(project_id=project_id, message={"type": "flag.created", "flag": flag.pk, "camera": camera.pk,
                                            "site": camera.site_id,
                                            "observed_count": observed_count, "model_count": model_count})
    publish_queue_stats(project_id=project_id)
    return flag


def close_count_flag(*, item: ReviewItem) -> int:
    """Store the review's outcome on the item's count flag once the item is accepted: status `reviewed`, the
    count of the accepted (latest) version and when; 0 for other items and other states.

    Call from the review workflow inside the transaction that accepts the item (the accepted version is
    then the item's newest one: a person's submit, a consensus or QA's own fix).
    """
    if item.reason != Reason.COUNT_FLAG or item.status != ItemStatus.ACCEPTED:
        return 0
    accepted = (Annotation.objects.filter(review_item_id=item.pk).order_by("-version")
                .values_list("count", flat=True).first())
    # The counts page hears `item.accepted` (published by the caller) and reloads its flags.
    return CountFlag.objects.filter(review_item_id=item.pk, status=FlagStatus.OPEN).update(
        status=FlagStatus.REVIEWED, reviewed_count=accepted, reviewed_at=item.accepted_at or timezone.now())


def camera_flags(*, camera: Camera, membership: Membership) -> QuerySet[CountFlag]:
    """The camera's flags, newest first: managers and operators see their own, admins and reviewers all."""
    flags = CountFlag.objects.filter(camera=camera).select_related("flagged_by", "review_item")
    if membership.role in SCOPED_ROLES:
        flags = flags.filter(flagged_by_id=membership.user_id)
    return flags.order_by("-created_at", "-id")[:FLAG_LIST_LIMIT]


def flag_payload(flag: CountFlag) -> dict[str, Any]:
    """A flag as the API returns it (select_related `flagged_by` and `review_item` before calling)."""
    return {
        "id": flag.pk,
        "project": flag.project_id,
        "camera": flag.camera_id,
        "from": flag.window_start.isoformat(),
        "to": flag.window_end.isoformat(),
        "observed_count": flag.observed_count,
        "model_count": flag.model_count,
        "note": flag.note,
        "status": flag.status,
        "reviewed_count": flag.reviewed_count,
        "reviewed_at": flag.reviewed_at.isoformat() if flag.reviewed_at else None,
        "flagged_by": flag.flagged_by.get_username(),
        "review_item": {"id": flag.review_item_id, "status": flag.review_item.status,
                        "priority": flag.review_item.priority},
        "assets": flag.assets,
        "created_at": flag.created_at.isoformat(),
    }


def review_context(*, item: ReviewItem) -> dict[str, Any] | None:
    """The flag behind a `count_flag` item, as its reviewer needs it: the window and its frames/clips to step
    through (with when each was first seen), the flagger's note and both counts; None for other items.

    Two queries, and none for other reasons: this runs on the claim hot path.
    """
    if item.reason != Reason.COUNT_FLAG:
        return None
    flag = CountFlag.objects.select_related("flagged_by", "camera").filter(review_item_id=item.pk).first()
    if flag is None:
        return None
    rows = _window_asset_rows(camera=flag.camera, window=Window(start=flag.window_start, end=flag.window_end))
    return {
        "id": flag.pk,
        "window_start": flag.window_start.isoformat(),
        "window_end": flag.window_end.isoformat(),
        "observed_count": flag.observed_count,
        "model_count": flag.model_count,
        "note": flag.note,
        "flagged_by": flag.flagged_by.get_username(),
        "camera": {"id": flag.camera_id, "name": flag.camera.name},
        "assets": [{"sha256": row["asset__sha256"], "kind": row["asset__kind"],
                    "captured_at": row["first_seen"].isoformat()} for row in rows],
    }


def visible_cameras(*, membership: Membership) -> QuerySet[Camera]:
    """The project's cameras the member may see counts for (managers and operators: their sites only),
    each with its site and its number of open flags, in one query."""
    cameras = (Camera.objects.filter(site__project_id=membership.project_id).select_related("site")
               .annotate(open_flags=Count("count_flags", filter=Q(count_flags__status=FlagStatus.OPEN))))
    if membership.role in SCOPED_ROLES:
        cameras = cameras.filter(site__in=membership.sites.values("pk"))
    return cameras.order_by("site__name", "name", "id")
