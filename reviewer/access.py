"""Reads that enforce membership for review items (`access_*`: the permission check happened)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from annotations.errors import NotFound
from annotations.models import Membership
from annotations.selectors import access_project
from reviewer.models import ReviewItem


def access_review_item(*, user: AbstractBaseUser | AnonymousUser, item_id: int,
                       roles: Iterable[str] | None = None) -> tuple[ReviewItem, Membership]:
    """The item and the caller's membership in its project: 404 for non-members and for items outside a
    scoped member's sites (no leak of existence), 403 for a member whose role may not do this."""
    item = ReviewItem.objects.select_related("asset", "prediction", "project").filter(pk=item_id).first()
    if item is None:
        raise NotFound("Not found.")
    _, membership = access_project(user=user, project_id=item.project_id, roles=roles, site_id=item.site_id)
    return item, membership
