"""Reads that enforce membership for review items (`access_*`: the permission check happened)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from annotations.errors import Forbidden, NotFound
from annotations.models import Membership, Role
from reviewer.models import ReviewItem


def access_review_item(*, user: AbstractBaseUser | AnonymousUser, item_id: int,
                       roles: Iterable[str] | None = None) -> tuple[ReviewItem, Membership]:
    """The item and the caller's membership in its project: 404 for non-members and for items outside a
    scoped member's sites (no leak of existence), 403 for a member whose role may not do this."""
    item = ReviewItem.objects.select_related("asset", "prediction", "project").filter(pk=item_id).first()
    membership = (
        Membership.objects.filter(project_id=item.project_id, user_id=user.pk).first()
        if item is not None and user.is_authenticated else None
    )
    if item is None or membership is None:
        raise NotFound("Not found.")
    if membership.role in (Role.MANAGER, Role.OPERATOR) and not membership.sites.filter(pk=item.site_id).exists():
        raise NotFound("Not found.")
    if roles is not None and membership.role not in set(roles):
        raise Forbidden("Your role in this project does not allow this.", details={"role": membership.role})
    return item, membership
