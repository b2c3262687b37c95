"""Event ingest: validate a device's batch, store each event once, and queue what deserves review.

One transaction per batch and a constant number of round trips whatever its size: one multi-row
`INSERT … ON CONFLICT DO NOTHING RETURNING` for predictions (the unique (device, event id) index is
the idempotency guarantee, so concurrent re-sends store each event once) and one for review items.
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

import loupe_wire as wire
from activelearning.registry.prelabels import request_prelabels
from activelearning.routing.policy import DEVICE_REASONS, Decision, facts_for_event, route_event
from activelearning.routing.selectors import current_policy
from annotations import metrics
from annotations.geometry import clip_to_image
from annotations.models import Asset, Camera, Device, Prediction, PredictionSource
from loupe_wire import Event, ParsedEvent, encode_detections, parse_batch
from reviewer.models import ReviewItem


@dataclass
class EventResult:
    id: str
    status: wire.ResultStatus
    error: dict[str, Any] | None = None
    review_item: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.error is not None:
            out["error"] = self.error
        if self.review_item is not None:
            out["review_item"] = self.review_item
        return out


class EventRejected(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}


@dataclass
class _AssetFacts:
    id: int
    kind: str
    width: int
    height: int
    frame_count: int | None
    brightness: float | None
    blur: float | None


@dataclass
class _Row:
    """A validated event ready to store."""

    slot: int
    event: Event
    payload_hash: str
    camera: Camera
    asset: _AssetFacts | None
    decision: Decision | None


def _clip_box(box: list[float], width: int, height: int) -> list[float]:
    """Clip [x, y, w, h] to the image (annotations.geometry's rule); refuse a box with no area inside it."""
    clipped = clip_to_image(box, width, height)
    if clipped is not None:
        return clipped
    if box[2] <= 0 or box[3] <= 0:
        raise EventRejected("invalid_box", f"Box {box} has zero or negative size.")
    raise EventRejected("invalid_box", f"Box {box} lies entirely outside the {width}×{height} image.")


def _validate(
    event: Event,
    *,
    cameras: dict[str, Camera],
    assets: dict[str, _AssetFacts],
    labels: frozenset[str],
    latest_allowed: datetime,
) -> tuple[Camera, _AssetFacts | None]:
    """Check an event against the device, its assets and the project; clip boxes in place."""
    camera = cameras.get(event.camera)
    if camera is None:
        raise EventRejected("unknown_camera", f"Camera {event.camera!r} is not one of this device's cameras.",
                            {"camera": event.camera})
    if event.captured_at > latest_allowed:
        raise EventRejected("invalid_timestamp", "captured_at is in the future beyond the allowed clock skew.",
                            {"captured_at": event.captured_at.isoformat()})
    if event.reason is not None and event.reason not in DEVICE_REASONS:
        raise EventRejected("invalid_reason", f"Unknown reason {event.reason!r}.",
                            {"allowed": list(DEVICE_REASONS)})
    if event.type == "count":
        if event.count is None:
            raise EventRejected(wire.INVALID_EVENT, "A count event needs `count`.")
        if event.detections:
            raise EventRejected(wire.INVALID_EVENT, "A count event carries no detections.")
        return camera, None
    if event.asset is None:
        raise EventRejected(wire.INVALID_EVENT, f"A {event.type} event needs `asset` (upload it first).")
    asset = assets.get(event.asset)
    if asset is None:
        raise EventRejected(wire.ASSET_MISSING, "The asset has not been uploaded; PUT /api/v1/media/{sha256} first.",
                            {"asset": event.asset})
    if asset.kind == "clip":
        if event.frame_index is not None and asset.frame_count is not None and event.frame_index >= asset.frame_count:
            raise EventRejected("invalid_frame_index",
                                f"frame_index {event.frame_index} is past the clip's {asset.frame_count} frames.")
    elif event.frame_index not in (None, 0):
        raise EventRejected("invalid_frame_index", "A still frame has only frame_index 0.")
    if len(event.detections) > settings.LOUPE_MAX_DETECTIONS:
        raise EventRejected("too_many_detections", f"More than {settings.LOUPE_MAX_DETECTIONS} detections.")
    width, height = asset.width, asset.height
    for det in event.detections:
        if labels and det.label not in labels:
            raise EventRejected("unknown_label", f"Label {det.label!r} is not a class of this project.",
                                {"label": det.label, "classes": sorted(labels)})
        if not 0.0 <= det.score <= 1.0:
            raise EventRejected("invalid_score", f"Score {det.score} is outside [0, 1].")
        det.box = _clip_box(det.box, width, height)
    return camera, asset


def _load_assets(hashes: set[str], project_id: int) -> dict[str, _AssetFacts]:
    """The project's assets among `hashes`: one another project uploaded is missing for this one."""
    if not hashes:
        return {}
    rows = Asset.objects.filter(sha256__in=hashes, holdings__project_id=project_id).values_list(
        "sha256", "id", "kind", "width", "height", "frame_count", "brightness", "blur"
    )
    return {
        sha: _AssetFacts(id=pk, kind=kind, width=width, height=height, frame_count=frames, brightness=light,
                         blur=blur)
        for sha, pk, kind, width, height, frames, light, blur in rows
    }


def ingest_events(*, device: Device, body: bytes) -> list[EventResult]:
    """Store a batch of device events; one result per event, in order. See API.md for the contract."""
    parsed = parse_batch(body, max_events=settings.LOUPE_MAX_BATCH_EVENTS)
    results: list[EventResult | None] = [None] * len(parsed)
    project = device.project
    now = timezone.now()
    latest_allowed = now + timedelta(seconds=settings.LOUPE_MAX_CLOCK_SKEW_SECONDS)
    cameras = {camera.name: camera for camera in Camera.objects.filter(device=device).select_related("site")}
    assets = _load_assets({p.event.asset for p in parsed if p.event is not None and p.event.asset}, project.pk)
    labels = frozenset(project.label_classes or ())
    policy_version, policy = current_policy(project)

    rows: list[_Row] = []
    first_by_id: dict[str, ParsedEvent] = {}
    for item in parsed:
        if item.event is None:
            results[item.index] = _rejected(item.raw_id, item.error_code, item.error_message)
            continue
        earlier = first_by_id.get(item.event.id)
        if earlier is not None:  # the same id twice in one batch: judged like a re-send
            results[item.index] = (
                EventResult(item.event.id, wire.DUPLICATE) if earlier.payload_hash == item.payload_hash
                else _rejected(item.event.id, wire.ID_CONFLICT, "This id was already used with another payload.")
            )
            continue
        first_by_id[item.event.id] = item
        try:
            camera, asset = _validate(
                item.event, cameras=cameras, assets=assets, labels=labels, latest_allowed=latest_allowed
            )
        except EventRejected as exc:
            results[item.index] = _rejected(item.event.id, exc.code, exc.message, exc.details)
            continue
        decision = None
        if item.event.type != "count":
            decision = route_event(policy, facts_for_event(
                event_type=item.event.type,
                reason=item.event.reason,
                detections=[(d.label, d.score) for d in item.event.detections],
                site=camera.site.name,
                brightness=asset.brightness if asset else None,
                blur=asset.blur if asset else None,
                device_id=device.pk,
                event_id=item.event.id,
            ))
        rows.append(_Row(item.index, item.event, item.payload_hash, camera, asset, decision))

    if rows:
        with transaction.atomic():
            created = _insert_predictions(device, rows, now)
            _judge_existing(device, [r for r in rows if r.event.id not in created], results)
            new_rows = [r for r in rows if r.event.id in created]
            item_ids = _queue_items(device, new_rows, created, policy, policy_version)
            for row in new_rows:
                results[row.slot] = EventResult(row.event.id, wire.CREATED, review_item=item_ids.get(row.event.id))
    answered = [r for r in results if r is not None]
    # Counted once the batch is committed: a batch that rolled back stored nothing, so it counts nothing.
    for status, n in Counter(r.status for r in answered).items():
        metrics.INGEST_EVENTS.labels(result=status).inc(n)
    return answered


def _rejected(event_id: str, code: str, message: str, details: dict[str, Any] | None = None) -> EventResult:
    return EventResult(event_id, wire.REJECTED, error={"code": code, "message": message, "details": details or {}})


PREDICTION_COLUMNS = (
    "project_id", "device_id", "camera_id", "asset_id", "source", "event_id", "event_type", "payload_hash",
    "captured_at", "received_at", "model_name", "model_version", "model_sha256", "frame_index", "detections",
    "detection_count", "count_name", "count_value", "reason", "context",
)


def _prediction_values(device: Device, rows: list[_Row], now: datetime) -> list[tuple[Any, ...]]:
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(now)
    values = []
    for row in rows:
        event, model = row.event, row.event.model
        values.append((
            device.project_id, device.pk, row.camera.pk, row.asset.id if row.asset else None,
            PredictionSource.DEVICE, event.id, event.type, row.payload_hash, adapt(event.captured_at), received,
            model.name if model else "", model.version if model else "", model.sha256 if model else "",
            event.frame_index, encode_detections(event.detections), len(event.detections),
            event.count.name if event.count else "", event.count.value if event.count else None,
            event.reason or "", orjson.dumps(event.context).decode(),
        ))
    return values


def _insert_predictions(device: Device, rows: list[_Row], now: datetime) -> dict[str, int]:
    """Insert the batch; return {event id: prediction id} for the rows that were new (not already stored)."""
    values = _prediction_values(device, rows, now)
    if connection.vendor == "postgresql":
        return _copy_then_insert(values)
    return _multirow_insert(values)


# Only identifiers from our own model are interpolated into these statements; values go as parameters/COPY.
_TABLE = Prediction._meta.db_table
_COLUMNS = ", ".join(PREDICTION_COLUMNS)
_STAGE = "loupe_prediction_stage"


def _multirow_insert(values: list[tuple[Any, ...]]) -> dict[str, int]:
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(PREDICTION_COLUMNS)) + ")"] * len(values))
    sql = f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES {placeholders} ON CONFLICT DO NOTHING RETURNING id, event_id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for row in values for v in row])
        return {event_id: pk for pk, event_id in cursor.fetchall()}


def _copy_then_insert(values: list[tuple[Any, ...]]) -> dict[str, int]:
    """PostgreSQL: COPY the batch into a session-local staging table, then one INSERT … SELECT … ON CONFLICT.

    COPY moves the rows in one stream with no per-parameter query building (a 10,000-parameter VALUES list
    spends more time in the driver than in the database); the unique (device, event id) index still
    decides what is new, so concurrent re-sends stay exactly-once.
    """
    with connection.cursor() as cursor:
        _ensure_stage(cursor)
        with cursor.cursor.copy(f"COPY {_STAGE} ({_COLUMNS}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {_TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGE} "  # noqa: S608
            "ON CONFLICT DO NOTHING RETURNING id, event_id"
        )
        created = {event_id: pk for pk, event_id in cursor.fetchall()}
        # Normally ON COMMIT empties the stage; this also covers several batches in one outer transaction.
        cursor.execute(f"DELETE FROM {_STAGE}")  # noqa: S608
        return created


_staged_connections: weakref.WeakSet[Any] = weakref.WeakSet()


def _ensure_stage(cursor: Any) -> None:
    """Create the temporary staging table once per database connection (pooled connections keep it)."""
    pg_connection = connection.connection
    if pg_connection in _staged_connections:
        return
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS AS "  # noqa: S608
        f"SELECT {_COLUMNS} FROM {_TABLE} WITH NO DATA"
    )
    # Remember it only once committed: a rolled-back transaction takes the CREATE with it.
    transaction.on_commit(lambda: _staged_connections.add(pg_connection))


def _judge_existing(device: Device, rows: list[_Row], results: list[EventResult | None]) -> None:
    """Events whose id the device already used: a re-send (same payload) or a conflict (the original stands)."""
    if not rows:
        return
    stored = dict(
        Prediction.objects.filter(device=device, event_id__in=[r.event.id for r in rows])
        .values_list("event_id", "payload_hash")
    )
    for row in rows:
        if stored.get(row.event.id) == row.payload_hash:
            results[row.slot] = EventResult(row.event.id, wire.DUPLICATE)
        else:
            results[row.slot] = _rejected(row.event.id, wire.ID_CONFLICT,
                                          "This event id was already stored with a different payload.")


def _queue_items(
    device: Device, rows: list[_Row], created: dict[str, int], policy: dict[str, Any], policy_version: int | None
) -> dict[str, int]:
    """Create review items for the new events the policy queued, within the budget caps."""
    wanted = [r for r in rows if r.decision is not None and r.decision.queue]
    if not wanted:
        return {}
    allowed = _within_caps(device, wanted, policy.get("caps") or {})
    items = [
        ReviewItem(
            project_id=device.project_id,
            asset_id=row.asset.id if row.asset else None,
            prediction_id=created[row.event.id],
            site_id=row.camera.site_id,
            camera_id=row.camera.pk,
            reason=row.decision.reason,
            priority=row.decision.priority,
            score_parts=row.decision.parts,
            policy_version=policy_version,
            required_overlap=device.project.consensus_overlap,
        )
        for row in allowed
        if row.decision is not None
    ]
    ReviewItem.objects.bulk_create(items)
    request_prelabels(project_id=device.project_id, item_ids=[item.pk for item in items if item.asset_id is not None])
    return {row.event.id: item.pk for row, item in zip(allowed, items, strict=True)}


_CAP_WINDOWS = {"per_minute": timedelta(minutes=1), "per_hour": timedelta(hours=1), "per_day": timedelta(days=1)}


def _within_caps(device: Device, wanted: list[_Row], caps: dict[str, int | None]) -> list[_Row]:
    """Keep the highest-priority rows that fit the project's and each site's budget.

    Call inside the batch transaction. On PostgreSQL a transaction-scoped advisory lock per project makes
    count-then-insert safe across concurrent batches; SQLite already serialises writers.
    """
    active = {name: cap for name, cap in caps.items() if cap is not None}
    if not active:
        return wanted
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x4C0_0E, device.project_id])
    now = timezone.now()
    base = ReviewItem.objects.filter(project_id=device.project_id)
    remaining: dict[str, float] = {}
    for name, window in _CAP_WINDOWS.items():
        if name in active:
            remaining[name] = active[name] - base.filter(created_at__gte=now - window).count()
    site_remaining: Counter[int] = Counter()
    per_site = active.get("per_site_per_day")
    if per_site is not None:
        for site_id in {r.camera.site_id for r in wanted}:
            site_remaining[site_id] = per_site - base.filter(
                site_id=site_id, created_at__gte=now - _CAP_WINDOWS["per_day"]
            ).count()
    kept: list[_Row] = []
    for row in sorted(wanted, key=lambda r: -(r.decision.priority if r.decision else 0)):
        assert row.decision is not None
        if not row.decision.exempt_from_caps:
            if any(left <= 0 for left in remaining.values()):
                continue
            if per_site is not None and site_remaining[row.camera.site_id] <= 0:
                continue
            for name in remaining:
                remaining[name] -= 1
            site_remaining[row.camera.site_id] -= 1
        kept.append(row)
    kept.sort(key=lambda r: r.slot)
    return kept


