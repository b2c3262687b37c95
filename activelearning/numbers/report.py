"""The numbers report: per camera, time bucket and model version, the model's count and the corrected counts.

Rows are keyed (camera, bucket start, model sha256) and served in that order, a page at a time by keyset (the
last key is the cursor), so pages never overlap or leave gaps whatever is inserted meanwhile before the cursor.
Three set-based reads per page, whatever the number of rows:
- the model's counts: the camera's `count` events summed per bucket and model, grouped in the database (the
  chart's own definition, reviewer.flags.count_events: event type `count`, sum of `count_value`);
- reviewed count flags: the flag's frozen model count against its reviewed count;
- accepted reviews of a clip or frame carrying count events: the events' sum against the accepted version's
  count, unless a reviewed flag covers that time on that camera (the flag is the correction there).
Both correction sources are few (people make them) and are bucketed here in Python, with the same UTC
truncation the database applies to the events (`bucket_start`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, F, Max, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.expressions import Expression
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncWeek

from activelearning.numbers.figures import Corrections, Trend, trend
from activelearning.registry.models import ModelVersion
from annotations.dbrouting import reporting_db
from annotations.errors import InvalidInput
from annotations.models import Annotation, Camera, Prediction
from reviewer.flags import COUNT_EVENT
from reviewer.models import CountFlag, FlagStatus, ItemStatus, Reason, ReviewItem

BUCKETS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}
DEFAULT_BUCKET = "day"
DEFAULT_WINDOW = dt.timedelta(days=30)
# Bounds that keep one report (and its CSV) a few hundred thousand rows at most on a large fleet.
MAX_WINDOW = {"hour": dt.timedelta(days=92), "day": dt.timedelta(days=366), "week": dt.timedelta(days=731)}
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 200
MAX_EXPORT_ROWS = 200_000

Key = tuple[int, dt.datetime, str]  # (camera id, bucket start in UTC, model sha256 or "")
# A corrected window: (camera id, when, model sha256, the model's count, the corrected count).
CorrectedWindow = tuple[int, dt.datetime, str, int, int]


@dataclass(frozen=True)
class NumbersQuery:
    """What one report covers: the cameras the caller may see (already narrowed by the site/camera filters)."""

    project_id: int
    cameras: dict[int, Camera]
    start: dt.datetime
    end: dt.datetime
    bucket: str
    model_sha256: str | None = None
    corrected_only: bool = False


@dataclass
class _Cell:
    model_count: int | None = None
    model_name: str = ""
    model_label: str = ""
    flags: Corrections = field(default_factory=Corrections)
    reviews: Corrections = field(default_factory=Corrections)


def report_window(*, start: dt.datetime | None, end: dt.datetime | None, bucket: str,
                  now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[from, to): defaults to the last DEFAULT_WINDOW; refuses a reversed one or one too long for the bucket."""
    try:
        end = end or (start + DEFAULT_WINDOW if start is not None else now)
        start = start or end - DEFAULT_WINDOW
    except OverflowError:  # a default 30 days past year 1 or 9999
        raise InvalidInput("The window is out of range.", code="invalid_window",
                           details={"from" if start is None else "to": "out of range"}) from None
    if end <= start:
        raise InvalidInput("`to` must be after `from`.", code="invalid_window", details={"to": "before from"})
    if end - start > MAX_WINDOW[bucket]:
        days = MAX_WINDOW[bucket].days
        raise InvalidInput(f"With {bucket} buckets the window is at most {days} days.", code="window_too_long",
                           details={"from": f"at most {days} days before to", "max_days": days})
    return start, end


def bucket_start(at: dt.datetime, bucket: str) -> dt.datetime:
    """The UTC bucket holding `at`, as the database's Trunc computes it (weeks start on Monday)."""
    at = at.astimezone(dt.UTC)
    hour = at.replace(minute=0, second=0, microsecond=0)
    if bucket == "hour":
        return hour
    day = hour.replace(hour=0)
    return day if bucket == "day" else day - dt.timedelta(days=day.weekday())


def _trunc(bucket: str, column: str) -> Expression:
    trunc = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}[bucket]
    return trunc(column, tzinfo=dt.UTC)


def encode_cursor(key: Key) -> str:
    raw = json.dumps([key[0], key[1].isoformat(), key[2]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Key:
    """The key a `next` link carries; 400 beside `cursor` for anything else."""
    try:
        camera, start, sha = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = (int(camera), dt.datetime.fromisoformat(start).astimezone(dt.UTC), str(sha))
        key[1] + max(BUCKETS.values())  # the next bucket must exist (_after adds one)
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("Unknown cursor.", code="invalid_cursor", details={"cursor": "not a cursor"}) from None
    return key


def _after(key: Key, *, bucket: str, time: str, sha: str) -> Q:
    """Rows whose key sorts after `key`, written on the raw time column (an index range, not a function of it):
    a later camera, a later bucket of the same camera, or a later model in the same bucket."""
    camera, start, model = key
    following = start + BUCKETS[bucket]
    return (Q(camera_id__gt=camera) | Q(camera_id=camera, **{f"{time}__gte": following})
            | Q(camera_id=camera, **{f"{time}__gte": start, f"{time}__lt": following, f"{sha}__gt": model}))


def _model_counts(query: NumbersQuery, *, after: Key | None, limit: int | None,
                  cameras: list[int] | None = None) -> dict[Key, _Cell]:
    """The model's count per key after `after`, the first `limit` keys (None: all), one grouped query."""
    events = Prediction.objects.using(reporting_db()).filter(
        camera_id__in=cameras if cameras is not None else list(query.cameras), event_type=COUNT_EVENT,
        captured_at__gte=query.start, captured_at__lt=query.end)
    if query.model_sha256 is not None:
        events = events.filter(model_sha256=query.model_sha256)
    if after is not None:
        events = events.filter(_after(after, bucket=query.bucket, time="captured_at", sha="model_sha256"))
    grouped = (events.annotate(bucket_start=_trunc(query.bucket, "captured_at"))
               .values("camera_id", "bucket_start", "model_sha256")
               .annotate(total=Coalesce(Sum("count_value"), 0), name=Max("model_name"), label=Max("model_version"))
               .order_by("camera_id", "bucket_start", "model_sha256"))
    if limit is not None:
        grouped = grouped[:limit]
    return {(row["camera_id"], row["bucket_start"].astimezone(dt.UTC), row["model_sha256"]):
            _Cell(model_count=int(row["total"]), model_name=row["name"], model_label=row["label"])
            for row in grouped}


def _reviewed_flags(query: NumbersQuery, cameras: list[int]) -> list[CorrectedWindow]:
    """(camera, window start, model sha, model count, reviewed count) of the reviewed flags starting in the
    window. A flag's model is the one that made the last count event of its window."""
    last_model = (Prediction.objects.filter(camera_id=OuterRef("camera_id"), event_type=COUNT_EVENT,
                                            captured_at__gte=OuterRef("window_start"),
                                            captured_at__lt=OuterRef("window_end"))
                  .order_by("-captured_at", "-id").values("model_sha256")[:1])
    windows = (
        CountFlag.objects.using(reporting_db())
        .filter(project_id=query.project_id, camera_id__in=cameras, status=FlagStatus.REVIEWED,
                reviewed_count__isnull=False, window_start__gte=query.start, window_start__lt=query.end)
        .annotate(model_sha=Coalesce(Subquery(last_model), Value("")))
        .values_list("camera_id", "window_start", "model_sha", "model_count", "reviewed_count"))
    return list(windows)  # type: ignore[arg-type]  # reviewed_count is filtered non-null


def _accepted_reviews(query: NumbersQuery, cameras: list[int]) -> list[CorrectedWindow]:
    """(camera, first event time, model sha, model count, accepted count) of each clip or frame with count
    events whose latest accepted review (not a count flag's) gave a count, outside reviewed flags' windows."""
    on_asset = (Prediction.objects.filter(project_id=query.project_id, camera_id=OuterRef("prediction__camera_id"),
                                          asset_id=OuterRef("asset_id"), event_type=COUNT_EVENT)
                .order_by().values("asset_id"))
    accepted_count = (Annotation.objects.filter(review_item_id=OuterRef("pk")).order_by("-version")
                      .values("count")[:1])
    later_review = (ReviewItem.objects.filter(project_id=OuterRef("project_id"), asset_id=OuterRef("asset_id"),
                                              status=ItemStatus.ACCEPTED, pk__gt=OuterRef("pk"))
                    .exclude(reason=Reason.COUNT_FLAG))
    under_flag = CountFlag.objects.filter(camera_id=OuterRef("camera_key"), status=FlagStatus.REVIEWED,
                                          reviewed_count__isnull=False, window_start__lte=OuterRef("at"),
                                          window_end__gt=OuterRef("at"))
    return list(
        ReviewItem.objects.using(reporting_db())
        .filter(project_id=query.project_id, status=ItemStatus.ACCEPTED, asset_id__isnull=False,
                prediction__camera_id__in=cameras)
        .exclude(reason=Reason.COUNT_FLAG)
        .annotate(camera_key=F("prediction__camera_id"),
                  at=Subquery(on_asset.annotate(t=Min("captured_at")).values("t")[:1]),
                  model_total=Subquery(on_asset.annotate(s=Sum("count_value")).values("s")[:1]),
                  model_sha=Coalesce(Subquery(on_asset.annotate(m=Max("model_sha256")).values("m")[:1]), Value("")),
                  corrected=Subquery(accepted_count))
        .filter(at__gte=query.start, at__lt=query.end, model_total__isnull=False, corrected__isnull=False)
        .exclude(Exists(later_review)).exclude(Exists(under_flag))
        .values_list("camera_key", "at", "model_sha", "model_total", "corrected"))


def _corrections(query: NumbersQuery, *, after: Key | None, upto: Key | None) -> dict[Key, _Cell]:
    """The corrected windows per key in (after, upto], bucketed like the events."""
    cameras = [c for c in query.cameras if (after is None or c >= after[0]) and (upto is None or c <= upto[0])]
    cells: dict[Key, _Cell] = defaultdict(_Cell)
    for source, windows in (("flags", _reviewed_flags(query, cameras)), ("reviews", _accepted_reviews(query, cameras))):
        for camera, at, sha, model_count, corrected in windows:
            if query.model_sha256 is not None and sha != query.model_sha256:
                continue
            key = (camera, bucket_start(at, query.bucket), sha)
            if (after is not None and key <= after) or (upto is not None and key > upto):
                continue
            cell = cells[key]
            window = Corrections.of_window(model_count=int(model_count), corrected_count=int(corrected))
            if source == "flags":
                cell.flags += window
            else:
                cell.reviews += window
    return dict(cells)


def _page_cells(query: NumbersQuery, *, after: Key | None, limit: int) -> tuple[list[tuple[Key, _Cell]], bool]:
    """The first `limit` keys after `after` of the union of both sides, and whether more follow.

    If the model side has more than `limit` keys, the page cannot reach past its (limit+1)-th: corrections are
    read only up to it. With `corrected_only`, the corrections decide the keys and the model's counts are read
    for those cameras and buckets."""
    if query.corrected_only:
        corrected = sorted(_corrections(query, after=after, upto=None).items())[:limit + 1]
        if not corrected:
            return [], False
        starts = [key[1] for key, _ in corrected]
        span = NumbersQuery(query.project_id, query.cameras, max(query.start, min(starts)),
                            min(query.end, max(starts) + BUCKETS[query.bucket]), query.bucket, query.model_sha256)
        models = _model_counts(span, after=None, limit=None, cameras=sorted({key[0] for key, _ in corrected}))
        for key, cell in corrected:
            if key in models:
                cell.model_count, cell.model_name, cell.model_label = (
                    models[key].model_count, models[key].model_name, models[key].model_label)
        return corrected[:limit], len(corrected) > limit
    models = _model_counts(query, after=after, limit=limit + 1)
    upto = max(models) if len(models) > limit else None
    cells = dict(models)
    for key, cell in _corrections(query, after=after, upto=upto).items():
        if key in cells:
            cells[key].flags, cells[key].reviews = cell.flags, cell.reviews
        else:
            cells[key] = cell
    ordered = sorted(cells.items())
    return ordered[:limit], len(ordered) > limit


def _model_versions(project_id: int, shas: set[str]) -> dict[str, ModelVersion]:
    return {m.sha256: m for m in ModelVersion.objects.filter(project_id=project_id, sha256__in=shas - {""})}


def _row(query: NumbersQuery, key: Key, cell: _Cell, versions: dict[str, ModelVersion]) -> dict[str, Any]:
    camera_id, start, sha = key
    camera = query.cameras[camera_id]
    registered = versions.get(sha)
    name = (registered.display_name if registered else
            (f"{cell.model_name or 'field model'} v{cell.model_label}" if cell.model_label
             else cell.model_name or "field model"))
    both = cell.flags + cell.reviews
    return {
        "site": camera.site_id, "site_name": camera.site.name, "camera": camera_id, "camera_name": camera.name,
        "bucket_start": start.isoformat().replace("+00:00", "Z"), "bucket": query.bucket,
        "model_sha256": sha, "model_version": registered.pk if registered else None, "model_name": name,
        "model_count": cell.model_count if cell.model_count is not None else 0,
        "corrected_windows": both.windows, "flag_windows": cell.flags.windows, "review_windows": cell.reviews.windows,
        "wrong_windows": both.wrong,
        "corrected_model_count": both.model_count if both.windows else None,
        "corrected_count": both.corrected_count if both.windows else None,
        "absolute_error": both.absolute_error if both.windows else None,
        "relative_error": both.relative_error, "error_rate": both.error_rate,
    }


def count_rows(*, query: NumbersQuery, after: Key | None, limit: int) -> tuple[list[dict[str, Any]], Key | None]:
    """One page of rows after the cursor key, and the key to continue after (None: the last page)."""
    cells, more = _page_cells(query, after=after, limit=limit)
    versions = _model_versions(query.project_id, {key[2] for key, _ in cells})
    rows = [_row(query, key, cell, versions) for key, cell in cells]
    return rows, (cells[-1][0] if more and cells else None)


def all_rows(*, query: NumbersQuery, page_size: int = MAX_PAGE_SIZE,
             cap: int = MAX_EXPORT_ROWS) -> Iterator[dict[str, Any]]:
    """Every row, page by page (so memory stays one page), at most `cap` of them."""
    after: Key | None = None
    served = 0
    while served < cap:
        rows, after = count_rows(query=query, after=after, limit=min(page_size, cap - served))
        yield from rows
        served += len(rows)
        if after is None:
            return


def camera_summaries(*, query: NumbersQuery) -> list[dict[str, Any]]:
    """Per site and camera over the whole window: totals, error figures, the latest model and the trend."""
    per_camera: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in all_rows(query=query):
        per_camera[row["camera"]].append(row)
    summaries = []
    for camera_id, rows in per_camera.items():
        camera = query.cameras[camera_id]
        by_bucket: dict[str, Corrections] = defaultdict(Corrections)
        for row in rows:
            by_bucket[row["bucket_start"]] += _corrections_of(row)
        total = sum(by_bucket.values(), Corrections())
        direction: Trend = trend([by_bucket[start] for start in sorted(by_bucket)])
        latest = max(rows, key=lambda r: (r["bucket_start"], r["model_count"]))
        models = sorted({(r["model_sha256"], r["model_name"], r["model_version"]) for r in rows},
                        key=lambda m: min(r["bucket_start"] for r in rows if r["model_sha256"] == m[0]))
        summaries.append({
            "site": camera.site_id, "site_name": camera.site.name, "camera": camera_id, "camera_name": camera.name,
            "model_count": sum(r["model_count"] for r in rows),
            "corrected_windows": total.windows, "wrong_windows": total.wrong,
            "corrected_model_count": total.model_count if total.windows else None,
            "corrected_count": total.corrected_count if total.windows else None,
            "absolute_error": total.absolute_error if total.windows else None,
            "relative_error": total.relative_error, "error_rate": total.error_rate,
            "model_sha256": latest["model_sha256"], "model_version": latest["model_version"],
            "model_name": latest["model_name"],
            "models": [{"model_sha256": sha, "model_name": name, "model_version": version}
                       for sha, name, version in models],
            "trend": {"direction": direction.direction, "recent": direction.recent, "previous": direction.previous,
                      "buckets": direction.buckets},
        })
    return sorted(summaries, key=lambda s: (s["site_name"], s["camera_name"], s["camera"]))


def _corrections_of(row: dict[str, Any]) -> Corrections:
    if not row["corrected_windows"]:
        return Corrections()
    return Corrections(row["corrected_windows"], row["wrong_windows"], row["corrected_model_count"],
                       row["corrected_count"], row["absolute_error"])
