"""The claim queue: lease the next item, keep the lease alive, give it back.

A lease is a fencing token: every later step (heartbeat, release, submit) must present it, and expiry is
judged by the database clock, so a worker whose lease ran out cannot overwrite the next holder's work.
Expired leases are claimable again by the claim query itself; no sweeper is needed for correctness.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from annotations import audit, rows
from annotations.errors import Conflict
from annotations.models import SCOPED_ROLES, Annotation, Asset, Membership, Prediction, Role
from reviewer import realtime
from reviewer.models import ItemStatus, ReviewItem

CLAIM_ROLES = (Role.ADMIN, Role.ANNOTATOR, Role.OPERATOR)


class LeaseLost(Conflict):
    """The caller no longer holds the item's lease (expired, released, or taken over)."""

    code = "lease_lost"


@dataclass(frozen=True)
class ClaimFilter:
    reason: str | None = None
    site_id: int | None = None


def lease_seconds() -> int:
    return int(settings.LOUPE_LEASE_SECONDS)


def _now_sql(offset_seconds: int = 0) -> str:
    """The database's clock (optionally plus an offset) as SQL; leases never trust the web server's clock."""
    if connection.vendor == "postgresql":
        return f"(now() + interval '{int(offset_seconds)} seconds')"
    # Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC.
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '{int(offset_seconds):+d} seconds')"


def _scope_sql(membership: Membership, claim: ClaimFilter, params: list[Any]) -> str:
    clauses = ""
    if claim.reason:
        clauses += " AND i.reason = %s"
        params.append(claim.reason)
    if claim.site_id is not None:
        clauses += " AND i.site_id = %s"
        params.append(claim.site_id)
    if membership.role in SCOPED_ROLES:
        site_ids = [s.pk for s in membership.sites.all()] or [-1]
        clauses += f" AND i.site_id IN ({', '.join(['%s'] * len(site_ids))})"
        params.extend(site_ids)
    return clauses


def claim_next(*, user: AbstractBaseUser, membership: Membership, claim: ClaimFilter) -> ReviewItem | None:
    """Lease the next item for `user`: an expired lease first, else the highest-priority pending item.

    One statement: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent claimers pass each other without
    waiting or ever taking the same row; on SQLite the single writer makes the UPDATE atomic.
    """
    sql, params = _lease_statement(user=user, membership=membership, claim=claim)
    item = _claim_postgres(sql, params, user) if connection.vendor == "postgresql" else _claim_generic(sql, params, user)
    if item is not None:
        _publish(item, "item.leased", user)
    return item


def _lease_statement(*, user: AbstractBaseUser, membership: Membership, claim: ClaimFilter) -> tuple[str, list[Any]]:
    """`UPDATE … RETURNING *` that leases one item, and its parameters (the user id first, the token second)."""
    table, annotations = ReviewItem._meta.db_table, Annotation._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    not_mine = f"NOT EXISTS (SELECT 1 FROM {annotations} a WHERE a.review_item_id = i.id AND a.author_id = %s)"  # noqa: S608
    expired_params: list[Any] = [membership.project_id, user.pk]
    expired_scope = _scope_sql(membership, claim, expired_params)
    pending_params: list[Any] = [membership.project_id, user.pk]
    pending_scope = _scope_sql(membership, claim, pending_params)
    # Identifiers are our own table names and fixed SQL fragments; every value is a parameter.
    sql = (
        f"UPDATE {table} SET status = 'leased', lease_holder_id = %s, lease_token = %s, "  # noqa: S608
        f"lease_expires_at = {_now_sql(lease_seconds())}, updated_at = {_now_sql()} "
        f"WHERE id = COALESCE("
        f"(SELECT i.id FROM {table} i WHERE i.project_id = %s AND i.status = 'leased' "
        f"AND i.lease_expires_at < {_now_sql()} AND {not_mine}{expired_scope} "
        f"ORDER BY i.lease_expires_at LIMIT 1{lock}), "
        f"(SELECT i.id FROM {table} i WHERE i.project_id = %s AND i.status = 'pending' "
        f"AND {not_mine}{pending_scope} ORDER BY i.priority DESC, i.id LIMIT 1{lock})) "
        "RETURNING *"
    )
    return sql, [user.pk, secrets.token_hex(16), *expired_params, *pending_params]


def _claim_postgres(lease_sql: str, params: list[Any], user: AbstractBaseUser) -> ReviewItem | None:
    """Lease, write the audit event and read the asset and pre-label in one round trip (the hot path).

    A single statement is its own transaction, so the lease and its audit event commit together.
    """
    audit_sql, audit_params = audit.insert_sql(
        source="claimed", action="item.leased", obj_type="review_item", actor_id=user.pk,
        after_sql="jsonb_build_object('lease_expires_at', lease_expires_at)")
    sql = (
        f"WITH claimed AS ({lease_sql}), logged AS ({audit_sql}) "  # noqa: S608
        f"SELECT {rows.columns(ReviewItem, 'c')}, {rows.columns(Asset, 'a')}, {rows.columns(Prediction, 'p')} "
        f"FROM claimed c LEFT JOIN {Asset._meta.db_table} a ON a.id = c.asset_id "
        f"LEFT JOIN {Prediction._meta.db_table} p ON p.id = c.prediction_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *audit_params])
        row = cursor.fetchone()
    if row is None:
        return None
    n_item, n_asset = rows.width(ReviewItem), rows.width(Asset)
    item = rows.from_row(ReviewItem, row[:n_item])
    item.asset = rows.from_row(Asset, row[n_item:n_item + n_asset])
    item.prediction = rows.from_row(Prediction, row[n_item + n_asset:])
    return item


def _claim_generic(lease_sql: str, params: list[Any], user: AbstractBaseUser) -> ReviewItem | None:
    """SQLite (no data-modifying CTEs): the atomic UPDATE, then the read and the audit event."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(lease_sql.replace("RETURNING *", "RETURNING id"), params)
            row = cursor.fetchone()
        if row is None:
            return None
        item = ReviewItem.objects.select_related("asset", "prediction").get(pk=row[0])
        assert item.lease_expires_at is not None
        audit.record(action="item.leased", obj_type="review_item", obj_id=item.pk, project_id=item.project_id,
                     actor=user, after={"lease_expires_at": item.lease_expires_at.isoformat()})
    return item


def _live_lease_update(item_id: int, user: AbstractBaseUser, lease_token: str, assignments: str,
                       params: list[Any]) -> int:
    table = ReviewItem._meta.db_table
    sql = (
        f"UPDATE {table} SET {assignments} WHERE id = %s AND status = 'leased' AND lease_holder_id = %s "  # noqa: S608
        f"AND lease_token = %s AND lease_expires_at > {_now_sql()}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, item_id, user.pk, lease_token])
        return int(cursor.rowcount)


def extend_lease(*, item: ReviewItem, user: AbstractBaseUser, lease_token: str) -> ReviewItem:
    """Heartbeat: push the lease's expiry out again; 409 if the lease is already gone."""
    if not _live_lease_update(item.pk, user, lease_token, f"lease_expires_at = {_now_sql(lease_seconds())}", []):
        raise LeaseLost("The lease on this item was lost or has expired.")
    item.refresh_from_db(fields=["lease_expires_at"])
    return item


@transaction.atomic
def release_lease(*, item: ReviewItem, user: AbstractBaseUser, lease_token: str) -> None:
    """Give the item back to the queue unchanged (skip)."""
    released = _live_lease_update(
        item.pk, user, lease_token,
        "status = 'pending', lease_holder_id = NULL, lease_token = '', lease_expires_at = NULL", [],
    )
    if not released:
        raise LeaseLost("The lease on this item was lost or has expired.")
    audit.record(action="item.released", obj_type="review_item", obj_id=item.pk, project_id=item.project_id,
                 actor=user)
    _publish(item, "item.released", user)


def _publish(item: ReviewItem, kind: str, user: AbstractBaseUser) -> None:
    realtime.publish(project_id=item.project_id, message={"type": kind, "item": item.pk, "user": user.pk,
                                                          "status": ItemStatus.LEASED if kind == "item.leased"
                                                          else ItemStatus.PENDING})
    realtime.publish_queue_stats(project_id=item.project_id)
