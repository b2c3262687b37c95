"""Reads that enforce membership. `access_*` names tell the reader the permission check happened."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from annotations.errors import Forbidden, NotFound
from annotations.models import Membership, Project


def access_project(*, user: AbstractBaseUser | AnonymousUser, project_id: int,
                   roles: Iterable[str] | None = None) -> tuple[Project, Membership]:
    """The project and the caller's membership; 404 if not a member (no leak), 403 if the role is not allowed."""
    membership = (
        Membership.objects.select_related("project").filter(project_id=project_id, user_id=user.pk).first()
        if user.is_authenticated else None
    )
    if membership is None:
        raise NotFound("Not found.")
    if roles is not None and membership.role not in set(roles):
        raise Forbidden("Your role in this project does not allow this.", details={"role": membership.role})
    return membership.project, membership
