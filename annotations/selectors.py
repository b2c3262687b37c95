"""Reads that enforce membership. `access_*` names tell the reader the permission check happened."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from annotations import rows
from annotations.errors import Forbidden, NotFound
from annotations.models import SCOPED_ROLES, Membership, Project

_ANY_SITE = object()


def access_project(*, user: AbstractBaseUser | AnonymousUser, project_id: int,
                   roles: Iterable[str] | None = None,
                   site_id: int | None | object = _ANY_SITE) -> tuple[Project, Membership]:
    """The project and the caller's membership.

    404 if not a member, and, when `site_id` names the site of the object asked for, if a manager or operator
    is not scoped to it (no leak of existence either way); then 403 if the role is not allowed.
    """
    membership = _membership(project_id, user.pk) if user.is_authenticated else None
    return check_membership(membership, roles=roles, site_id=site_id)


def check_membership(membership: Membership | None, *, roles: Iterable[str] | None = None,
                     site_id: int | None | object = _ANY_SITE) -> tuple[Project, Membership]:
    """The rules of `access_project` for a membership already read (None: not a member)."""
    if membership is None:
        raise NotFound("Not found.")
    if (site_id is not _ANY_SITE and membership.role in SCOPED_ROLES
            and not membership.sites.filter(pk=site_id).exists()):
        raise NotFound("Not found.")
    if roles is not None and membership.role not in set(roles):
        raise Forbidden("Your role in this project does not allow this.", details={"role": membership.role})
    return membership.project, membership


def membership_sql(alias: str = "m") -> str:
    """The membership and project columns `membership_from_row` reads, for joining into other reads."""
    return f"{rows.columns(Membership, alias)}, {rows.columns(Project, alias + '_p')}"


def membership_from_row(values: tuple[object, ...] | list[object]) -> Membership | None:
    n = rows.width(Membership)
    membership = rows.from_row(Membership, values[:n])
    if membership is not None:
        membership.project = rows.from_row(Project, values[n:])
    return membership


def _membership(project_id: int, user_id: int) -> Membership | None:
    """Every API request asks this; one hand-written statement (see annotations.rows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {membership_sql()} FROM {Membership._meta.db_table} m "  # noqa: S608
            f"JOIN {Project._meta.db_table} m_p ON m_p.id = m.project_id WHERE m.project_id = %s AND m.user_id = %s",
            [project_id, user_id])
        row = cursor.fetchone()
    return None if row is None else membership_from_row(row)
