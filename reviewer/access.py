"""Reads that enforce membership for review items (`access_*`: the permission check happened)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from annotations import rows
from annotations.errors import NotFound
from annotations.models import Asset, Membership, Prediction, Project
from annotations.selectors import check_membership, membership_from_row, membership_sql
from reviewer.models import ReviewItem


def access_review_item(*, user: AbstractBaseUser | AnonymousUser, item_id: int,
                       roles: Iterable[str] | None = None) -> tuple[ReviewItem, Membership]:
    """The item (with asset, pre-label and project) and the caller's membership in its project: 404 for
    non-members and for items outside a scoped member's sites (no leak of existence), 403 for a member whose
    role may not do this. One statement: every lease heartbeat and submit starts here."""
    if not user.is_authenticated:
        raise NotFound("Not found.")
    sql = (
        f"SELECT {rows.columns(ReviewItem, 'i')}, {rows.columns(Asset, 'a')}, "  # noqa: S608
        f"{rows.columns(Prediction, 'p')}, {membership_sql('m')} "
        f"FROM {ReviewItem._meta.db_table} i "
        f"LEFT JOIN {Asset._meta.db_table} a ON a.id = i.asset_id "
        f"LEFT JOIN {Prediction._meta.db_table} p ON p.id = i.prediction_id "
        f"LEFT JOIN {Membership._meta.db_table} m ON m.project_id = i.project_id AND m.user_id = %s "
        f"LEFT JOIN {Project._meta.db_table} m_p ON m_p.id = m.project_id WHERE i.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, item_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("Not found.")
    n_item, n_asset, n_prediction = rows.width(ReviewItem), rows.width(Asset), rows.width(Prediction)
    item = rows.from_row(ReviewItem, row[:n_item])
    item.asset = rows.from_row(Asset, row[n_item:n_item + n_asset])
    item.prediction = rows.from_row(Prediction, row[n_item + n_asset:n_item + n_asset + n_prediction])
    project, membership = check_membership(membership_from_row(row[n_item + n_asset + n_prediction:]),
                                           roles=roles, site_id=item.site_id)
    item.project = project
    return item, membership
