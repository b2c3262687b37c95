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

from annotations import audit, metrics, rows
from annotations.errors import Conflict
from annotations.models import SCOPED_ROLES, Annotation, Asset, Membership, Prediction, Project, Role
from reviewer import realtime
from reviewer.models import ItemSkip, ItemStatus, ReviewItem

CLAIM_ROLES = (Role.ADMIN, Role.ANNOTATOR, Role.OPERATOR)


class LeaseLost(Conflict):
    """The caller no longer holds the item's lease (expired, released, or taken over)."""

    code = "lease_lost"


@dataclass(frozen=True)
class ClaimFilter:
    reason: str | None = None
    site_id: int | None = None
    #: A claim ahead of time (the browser's next item): a short lease, at most one per person.
    prefetch: bool = False


# The SET list that ends a lease, and the one that also puts the item back in the queue: one spelling for the
# claim's give-backs, release, skip and submit.
UNLEASED_SQL = "lease_holder_id = NULL, lease_token = '', lease_expires_at = NULL, lease_prefetch = false"
BACK_IN_QUEUE_SQL = f"status = 'pending', {UNLEASED_SQL}"


def lease_seconds(*, prefetch: bool = False) -> int:
    return int(settings.LOUPE_PREFETCH_LEASE_SECONDS if prefetch else settings.LOUPE_LEASE_SECONDS)


def lease_live_sql(alias: str = "") -> str:
    """The one rule for "the lease is live", as SQL: it expires by the database's clock, never the web server's.
    `alias`: the table's alias in the query (`"i"` → `i.lease_expires_at`)."""
    column = f"{alias}.lease_expires_at" if alias else "lease_expires_at"
    return f"{column} > {now_sql()}"


def now_sql(offset_seconds: int = 0) -> str:
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
    """Lease the next item for `user`, in this order: the lease they already hold (a reload, a second tab:
    `item.resumed`), their prefetched item (a plain claim takes it over), their rejected work coming back
    to them, an expired lease, else the highest-priority pending item — never one they annotated this
    round, skipped lately, or that waits for another person's rework.

    One statement: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent claimers pass each other without
    waiting or ever taking the same row; on SQLite the single writer makes the UPDATE atomic. A person
    holds at most one lease of each kind (current, prefetched) per project: once a claim succeeds, their
    other leases of that kind go back to the queue.
    """
    with metrics.timed(metrics.CLAIM_SECONDS, found="false") as labels:
        pick, params = _pick_statement(user=user, membership=membership, claim=claim)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                item = _claim_postgres(pick, params, user, claim)
            else:
                item = _claim_generic(pick, params, user, claim)
                if item is not None:
                    _release_extra_leases(item=item, user=user)
        if item is not None:
            labels["found"] = "true"
    if item is not None:
        _publish(item, "item.leased", user)
    return item


def _pick_statement(*, user: AbstractBaseUser, membership: Membership, claim: ClaimFilter) -> tuple[str, list[Any]]:
    """`SELECT picked, was_mine`: the item a claim leases (locked on PostgreSQL), and whether it was the
    caller's own lease already."""
    table, annotations, skips = ReviewItem._meta.db_table, Annotation._meta.db_table, ItemSkip._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    now = now_sql()
    uid = user.pk
    not_mine = f"NOT EXISTS (SELECT 1 FROM {annotations} a WHERE a.review_item_id = i.id AND a.author_id = %s)"  # noqa: S608
    not_skipped = (f"NOT EXISTS (SELECT 1 FROM {skips} s WHERE s.review_item_id = i.id AND s.user_id = %s "  # noqa: S608
                   f"AND s.created_at > {now_sql(-int(settings.LOUPE_SKIP_MEMORY_SECONDS))})")
    not_held = f"(i.rework_author_id IS NULL OR i.rework_author_id = %s OR i.rework_until < {now})"
    project_id = membership.project_id

    def candidate(where: str, where_params: list[Any], order: str) -> tuple[str, list[Any]]:
        p: list[Any] = [project_id, *where_params]
        scope = _scope_sql(membership, claim, p)
        return (f"(SELECT i.id FROM {table} i WHERE i.project_id = %s AND {where}{scope} "  # noqa: S608
                f"ORDER BY {order} LIMIT 1{lock})"), p

    # The caller's own live lease: for a plain claim the current one first, else the prefetched one (taken
    # over); a prefetch claim resumes only a prefetched one. One candidate, to keep the statement's planning short.
    mine = f"i.status = 'leased' AND i.lease_holder_id = %s AND {lease_live_sql('i')}"
    parts = [candidate(f"{mine} AND i.lease_prefetch", [uid], "i.id") if claim.prefetch
             else candidate(mine, [uid], "i.lease_prefetch, i.id")]
    parts += [
        candidate(f"i.status = 'pending' AND i.rework_author_id = %s AND {not_skipped}", [uid, uid], "i.id"),
        candidate(f"i.status = 'leased' AND i.lease_expires_at < {now} AND {not_mine} AND {not_skipped} "
                  f"AND {not_held}", [uid, uid, uid], "i.lease_expires_at"),
        candidate(f"i.status = 'pending' AND {not_mine} AND {not_skipped} AND {not_held}", [uid, uid, uid],
                  "i.priority DESC, i.id"),
    ]
    # Identifiers are our own table names and fixed SQL fragments; every value is a parameter.
    pick = (f"SELECT o.id AS picked, (o.status = 'leased' AND o.lease_holder_id = %s) AS was_mine "  # noqa: S608
            f"FROM {table} o WHERE o.id = COALESCE({', '.join(sql for sql, _ in parts)})")
    params: list[Any] = [uid]
    for _, p in parts:
        params.extend(p)
    return pick, params


def _lease_assignments(claim: ClaimFilter) -> str:
    """The SET list of a claim; its two parameters are the holder's id and the new lease token."""
    return (f"status = 'leased', lease_holder_id = %s, lease_token = %s, "
            f"lease_expires_at = {now_sql(lease_seconds(prefetch=claim.prefetch))}, "
            f"lease_prefetch = {'true' if claim.prefetch else 'false'}, updated_at = {now_sql()}")


def _claim_postgres(pick: str, params: list[Any], user: AbstractBaseUser, claim: ClaimFilter) -> ReviewItem | None:
    """Lease, write the audit event and read the project, asset and pre-label in one round trip (the hot path).

    A single statement, so the lease and its audit event commit together.
    """
    audit_sql, audit_params = audit.insert_sql(
        source="claimed", action="item.leased", obj_type="review_item", actor_id=user.pk,
        after_sql="jsonb_build_object('lease_expires_at', lease_expires_at, 'prefetch', lease_prefetch, "
                  "'resumed', was_mine)")
    released_audit_sql, released_audit_params = audit.insert_sql(
        source="released", action="item.released", obj_type="review_item", actor_id=user.pk,
        after_sql="jsonb_build_object('why', 'superseded by a new claim')")
    table = ReviewItem._meta.db_table
    lease_sql = (f"UPDATE {table} SET {_lease_assignments(claim)} FROM ({pick}) pick "  # noqa: S608
                 f"WHERE {table}.id = pick.picked RETURNING {table}.*, pick.was_mine")
    # The caller's other leases of this kind go back (see _release_extra_leases), in the same statement.
    released_sql = (
        f"UPDATE {table} r SET {BACK_IN_QUEUE_SQL}, updated_at = now() FROM claimed c "  # noqa: S608
        f"WHERE r.project_id = c.project_id AND r.status = 'leased' AND r.lease_holder_id = %s "
        f"AND r.lease_prefetch = %s AND r.id <> c.id RETURNING r.id, r.project_id"
    )
    sql = (
        f"WITH claimed AS ({lease_sql}), logged AS ({audit_sql}), released AS ({released_sql}), "  # noqa: S608
        f"logged_released AS ({released_audit_sql}) "
        f"SELECT {rows.columns(ReviewItem, 'c')}, {rows.columns(Project, 'pr')}, {rows.columns(Asset, 'a')}, "
        f"{rows.columns(Prediction, 'p')}, (SELECT count(*) FROM released), c.was_mine "
        f"FROM claimed c JOIN {Project._meta.db_table} pr ON pr.id = c.project_id "
        f"LEFT JOIN {Asset._meta.db_table} a ON a.id = c.asset_id "
        f"LEFT JOIN {Prediction._meta.db_table} p ON p.id = c.prediction_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, secrets.token_hex(16), *params, *audit_params, user.pk, claim.prefetch,
                             *released_audit_params])
        row = cursor.fetchone()
    if row is None:
        return None
    n_item, n_project, n_asset = rows.width(ReviewItem), rows.width(Project), rows.width(Asset)
    item = rows.from_row(ReviewItem, row[:n_item])
    item.project = rows.from_row(Project, row[n_item:n_item + n_project])
    item.asset = rows.from_row(Asset, row[n_item + n_project:n_item + n_project + n_asset])
    item.prediction = rows.from_row(Prediction, row[n_item + n_project + n_asset:-2])
    item.resumed = bool(row[-1])  # type: ignore[attr-defined]
    if row[-2]:
        realtime.publish_queue_stats(project_id=item.project_id)
    return item


def _claim_generic(pick: str, params: list[Any], user: AbstractBaseUser, claim: ClaimFilter) -> ReviewItem | None:
    """SQLite: pick, then lease, read and audit; the caller's IMMEDIATE transaction makes it one writer's step."""
    with connection.cursor() as cursor:
        cursor.execute(pick, params)
        picked = cursor.fetchone()
        if picked is None:
            return None
        cursor.execute(f"UPDATE {ReviewItem._meta.db_table} SET {_lease_assignments(claim)} WHERE id = %s",  # noqa: S608
                       [user.pk, secrets.token_hex(16), picked[0]])
    item = ReviewItem.objects.select_related("project", "asset", "prediction").get(pk=picked[0])
    item.resumed = bool(picked[1])  # type: ignore[attr-defined]
    assert item.lease_expires_at is not None
    audit.record(action="item.leased", obj_type="review_item", obj_id=item.pk, project_id=item.project_id,
                 actor=user, after={"lease_expires_at": item.lease_expires_at.isoformat(),
                                    "prefetch": item.lease_prefetch, "resumed": bool(picked[1])})
    return item


def _release_extra_leases(*, item: ReviewItem, user: AbstractBaseUser) -> None:
    """Give back the caller's other leases of the claimed item's kind in its project (a tab closed without
    releasing, a filter changed), so leases never pile up. SQLite only (PostgreSQL does it inside the claim
    statement); call inside the claim's transaction."""
    table = ReviewItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {BACK_IN_QUEUE_SQL}, updated_at = {now_sql()} WHERE project_id = %s "  # noqa: S608
            "AND status = 'leased' AND lease_holder_id = %s AND lease_prefetch = %s AND id <> %s RETURNING id",
            [item.project_id, user.pk, item.lease_prefetch, item.pk])
        released = [r[0] for r in cursor.fetchall()]
    for item_id in released:
        audit.record(action="item.released", obj_type="review_item", obj_id=item_id, project_id=item.project_id,
                     actor=user, after={"why": "superseded by a new claim"})
    if released:
        realtime.publish_queue_stats(project_id=item.project_id)


def _live_lease_update(item_id: int, user: AbstractBaseUser, lease_token: str, assignments: str,
                       params: list[Any]) -> int:
    table = ReviewItem._meta.db_table
    sql = (
        f"UPDATE {table} SET {assignments} WHERE id = %s AND status = 'leased' AND lease_holder_id = %s "  # noqa: S608
        f"AND lease_token = %s AND {lease_live_sql()}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, item_id, user.pk, lease_token])
        return int(cursor.rowcount)


def extend_lease(*, item: ReviewItem, user: AbstractBaseUser, lease_token: str, prefetch: bool = False) -> ReviewItem:
    """Heartbeat: push the lease's expiry out again; 409 if the lease is already gone.

    `prefetch=False` (the item on screen) gives the full lease and makes a prefetched item the current one;
    `prefetch=True` keeps a waiting item's short lease alive.
    """
    assignments = (f"lease_expires_at = {now_sql(lease_seconds(prefetch=prefetch))}, "
                   f"lease_prefetch = {'true' if prefetch else 'false'}")
    if not _live_lease_update(item.pk, user, lease_token, assignments, []):
        raise LeaseLost("The lease on this item was lost or has expired.")
    item.refresh_from_db(fields=["lease_expires_at", "lease_prefetch"])
    return item


@transaction.atomic
def release_lease(*, item: ReviewItem, user: AbstractBaseUser, lease_token: str) -> None:
    """Give the item back to the queue unchanged (the tab closed, the person went idle)."""
    _give_back(item=item, user=user, lease_token=lease_token)
    audit.record(action="item.released", obj_type="review_item", obj_id=item.pk, project_id=item.project_id,
                 actor=user)
    _publish(item, "item.released", user)


@transaction.atomic
def skip_item(*, item: ReviewItem, user: AbstractBaseUser, lease_token: str, reason: str) -> ItemSkip:
    """Give the item back and remember that this person skipped it (and why): the queue offers it to others,
    not to them, for `LOUPE_SKIP_MEMORY_SECONDS`."""
    _give_back(item=item, user=user, lease_token=lease_token)
    skip = ItemSkip.objects.create(review_item_id=item.pk, user_id=user.pk, reason=reason)
    audit.record(action="item.skipped", obj_type="review_item", obj_id=item.pk, project_id=item.project_id,
                 actor=user, after={"reason": reason})
    _publish(item, "item.released", user)
    return skip


def _give_back(*, item: ReviewItem, user: AbstractBaseUser, lease_token: str) -> None:
    released = _live_lease_update(item.pk, user, lease_token, BACK_IN_QUEUE_SQL, [])
    if not released:
        raise LeaseLost("The lease on this item was lost or has expired.")


def _publish(item: ReviewItem, kind: str, user: AbstractBaseUser) -> None:
    realtime.publish(project_id=item.project_id, message={"type": kind, "item": item.pk, "user": user.pk,
                                                          "site": item.site_id,  # scoped members hear only theirs
                                                          "status": ItemStatus.LEASED if kind == "item.leased"
                                                          else ItemStatus.PENDING})
    realtime.publish_queue_stats(project_id=item.project_id)
