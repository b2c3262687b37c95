"""Reads of the review queue. Callers check membership first (`annotations.selectors.access_project`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from annotations.models import Annotation, Prediction, PredictionSource
from reviewer.models import ItemStatus, ReviewItem


def queue_stats(project_id: int, *, using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """A project's queue depth, as pushed in `queue.stats`; two queries whatever the number of items. On the
    primary unless told (`using`): the push follows a write and must show it.

    An expired lease counts as pending: the claim query hands it out again. Pending items with no site
    are in `pending` and `pending_by_reason` but not in `pending_by_site`.
    """
    now = timezone.now()
    start_of_day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    live_lease = Q(status=ItemStatus.LEASED, lease_expires_at__gt=now)
    expired_lease = Q(status=ItemStatus.LEASED, lease_expires_at__lte=now)
    accepted_today = Q(status=ItemStatus.ACCEPTED, updated_at__gte=start_of_day)

    by_reason: Counter[str] = Counter()
    by_site: Counter[str] = Counter()
    pending = 0
    groups = (
        ReviewItem.objects.using(using).filter(Q(status=ItemStatus.PENDING) | expired_lease, project_id=project_id)
        .values_list("reason", "site__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for reason, site_name, n in groups:
        pending += n
        by_reason[reason] += n
        if site_name is not None:
            by_site[site_name] += n

    others = ReviewItem.objects.using(using).filter(
        live_lease | Q(status=ItemStatus.SUBMITTED) | accepted_today, project_id=project_id
    ).aggregate(
        leased=Count("id", filter=live_lease),
        submitted=Count("id", filter=Q(status=ItemStatus.SUBMITTED)),
        accepted_today=Count("id", filter=accepted_today),
    )
    return {
        "pending": pending,
        "pending_by_reason": dict(by_reason),
        "pending_by_site": dict(by_site),
        "leased": others["leased"],
        "submitted": others["submitted"],
        "accepted_today": others["accepted_today"],
    }


def scoped_queue_stats(stats: dict[str, Any], site_names: set[str]) -> dict[str, Any]:
    """`queue_stats` as a store manager or bus operator sees it: `pending_by_site` of their sites only."""
    by_site = stats.get("pending_by_site")
    if not isinstance(by_site, dict):
        return stats
    return {**stats, "pending_by_site": {name: n for name, n in by_site.items() if name in site_names}}


ITEM_ORDERINGS = ("-updated_at", "updated_at", "-priority", "priority", "agreement", "-agreement", "-id", "id")
ITEM_LIST_LIMIT = 200


@dataclass(frozen=True)
class ItemFilter:
    status: str = ItemStatus.SUBMITTED
    reason: str | None = None
    site: int | None = None
    ordering: str = "-updated_at"
    limit: int = 50


def list_review_items(*, project_id: int, filters: ItemFilter) -> list[dict[str, Any]]:
    """Items of a project in one state (QA's "awaiting review" list by default), each with its asset and its
    latest annotation version; one query whatever the number. `filters.ordering` must be in ITEM_ORDERINGS."""
    latest = Annotation.objects.filter(review_item_id=OuterRef("pk")).order_by("-version")
    items = ReviewItem.objects.filter(project_id=project_id, status=filters.status)
    if filters.reason is not None:
        items = items.filter(reason=filters.reason)
    if filters.site is not None:
        items = items.filter(site_id=filters.site)
    # NULL agreement (no consensus round) sorts last either way.
    field = filters.ordering.lstrip("-")
    order = F(field).desc(nulls_last=True) if filters.ordering.startswith("-") else F(field).asc(nulls_last=True)
    rows = (
        items.annotate(latest_version=Subquery(latest.values("version")[:1]),
                       latest_author=Subquery(latest.values("author__username")[:1]),
                       latest_submitted_at=Subquery(latest.values("submitted_at")[:1]),
                       latest_verdict=Subquery(latest.values("verdict")[:1]))
        .order_by(order, "-id")
        .values("id", "reason", "priority", "status", "site_id", "site__name", "camera_id", "camera__name",
                "agreement", "annotations_count", "required_overlap", "last_comment", "created_at", "updated_at",
                "asset__sha256", "asset__kind", "latest_version", "latest_author", "latest_submitted_at",
                "latest_verdict")[: filters.limit]
    )
    return [{
        "id": r["id"], "reason": r["reason"], "priority": r["priority"], "status": r["status"],
        "site": None if r["site_id"] is None else {"id": r["site_id"], "name": r["site__name"]},
        "camera": None if r["camera_id"] is None else {"id": r["camera_id"], "name": r["camera__name"]},
        "agreement": r["agreement"], "annotations_count": r["annotations_count"],
        "required_overlap": r["required_overlap"], "last_comment": r["last_comment"],
        "created_at": r["created_at"], "updated_at": r["updated_at"],
        "asset": None if r["asset__sha256"] is None else {
            "sha256": r["asset__sha256"], "kind": r["asset__kind"],
            "thumb_url": f"/api/v1/assets/{r['asset__sha256']}/thumb.jpg"},
        "latest": None if r["latest_version"] is None else {
            "version": r["latest_version"], "author": r["latest_author"],
            "submitted_at": r["latest_submitted_at"], "verdict": r["latest_verdict"]},
    } for r in rows]


def dispute_context(item: ReviewItem) -> dict[str, Any] | None:
    """For an item settling a dispute, both sides of it: the device's count and tracks, and the second opinion
    (e.g. the ticket machine's count); None for any other item. One query, only for disputes.

    Devices say it two ways: the dispute event carries the device's own count and tracks (a second opinion
    such as `tickets` in its context), or it carries the second opinion's count (`context.source`, e.g.
    "ticketing") with the camera's count in `context.camera_count` and the camera's tracks in the device's
    own prediction on the same clip.
    """
    dispute = item.prediction
    if dispute is None or not (dispute.event_type == "dispute" or item.reason == "disputed"):
        return None
    context = dispute.context if isinstance(dispute.context, dict) else {}
    counted_by_other = bool(context.get("source"))
    own = None
    if dispute.asset_id is not None and (counted_by_other or not dispute.detections):
        camera = Q(camera_id=dispute.camera_id) if dispute.camera_id is not None else Q(camera__isnull=True)
        own = (Prediction.objects.filter(camera, asset_id=dispute.asset_id, source=PredictionSource.DEVICE,
                                         event_type="prediction")
               .order_by("-captured_at", "-id").first())
    device = own if own is not None else dispute

    device_count = _int_or_none(context.get("camera_count"))
    if device_count is None and own is not None:
        device_count = own.count_value
    if device_count is None and not counted_by_other:
        device_count = dispute.count_value
    second: dict[str, Any] | None
    if counted_by_other:
        second = {"source": str(context["source"]), "count": dispute.count_value}
    else:
        other = next((k for k in ("ticketing_count", "tickets", "second_opinion_count") if k in context), None)
        second = {"source": "ticketing" if other in ("ticketing_count", "tickets") else "second opinion",
                  "count": _int_or_none(context.get(other))} if other else None
    return {
        "count_name": dispute.count_name,
        "device": {"prediction": device.pk, "count": device_count, "frame_index": device.frame_index,
                   "model": {"name": device.model_name, "version": device.model_version},
                   "boxes": dispute.detections or (own.detections if own is not None else [])},
        "second_opinion": second,
    }


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
