"""Reads that enforce membership. `access_*` names tell the reader the permission check happened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from annotations import rows
from annotations.errors import Forbidden, NotFound
from annotations.models import (
    SCOPED_ROLES,
    Asset,
    Camera,
    Device,
    Membership,
    Prediction,
    Project,
    Role,
    Site,
)

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


def access_asset(*, user: AbstractBaseUser | AnonymousUser, sha256: str) -> Asset:
    """The asset if the caller may see it through a project that holds it (`access_asset_media`); 404
    otherwise, the same answer whether the hash is unknown or not yours."""
    return access_asset_media(user=user, sha256=sha256).asset


@dataclass(frozen=True)
class AssetAccess:
    asset: Asset
    blur: bool  # faces are blurred in what this caller sees
    original_project_id: int | None  # a blurring project where the caller is admin: may see originals
    project_ids: tuple[int, ...] = ()  # the projects admitting the caller: only their predictions are used


def access_asset_media(*, user: AbstractBaseUser | AnonymousUser, sha256: str,
                       original: bool = False) -> AssetAccess:
    """The asset and how the caller may see it; 404 as `access_asset`. Two queries, however many projects.

    A project admits the caller to an asset when it holds the asset (`AssetHolding`), the caller is a member,
    and, for a manager or operator (limited to their sites, as in `check_membership`), some prediction or
    review item of that project on the asset is at one of their sites. Only admitting projects count: faces
    are blurred if ANY of them has `blur_faces` (the strictest wins), and the caller may see the original
    (`original=True`) only as an admin of one of those blurring projects: 403 `original_forbidden`
    otherwise. Where no admitting project blurs it, what is served is the original anyway and
    `original=True` changes nothing.
    """
    asset = Asset.objects.filter(sha256=sha256).first() if user.is_authenticated else None
    if asset is None or user.pk is None:
        raise NotFound("Not found.")
    memberships = list(
        Membership.objects.filter(user_id=user.pk, project__asset_holdings__asset=asset)
        .filter(_admits_to_asset(asset))
        .values_list("project_id", "role", "project__blur_faces"))
    if not memberships:
        raise NotFound("Not found.")
    blurring = sorted((project_id, role) for project_id, role, blur in memberships if blur)
    admin_of = [project_id for project_id, role in blurring if role == Role.ADMIN]
    if original and blurring and not admin_of:
        raise Forbidden("Only an admin of a project that blurs faces may see the original.",
                        code="original_forbidden")
    return AssetAccess(asset=asset, blur=bool(blurring), original_project_id=admin_of[0] if admin_of else None,
                       project_ids=tuple(sorted(project_id for project_id, _, _ in memberships)))


def _admits_to_asset(asset: Asset) -> Q:
    """On a Membership of a project holding `asset`: the member's site scope lets them see it (the rule of
    `check_membership`: SCOPED_ROLES see only the objects at their membership's `sites`; an asset is at the
    sites of its project's predictions' cameras and review items). Both probes use the asset's index."""
    member_sites = Site.objects.filter(scoped_members=OuterRef(OuterRef("pk"))).values("pk")
    at_member_site = (
        Exists(asset.predictions.filter(project_id=OuterRef("project_id"), camera__site_id__in=member_sites))
        | Exists(asset.review_items.filter(project_id=OuterRef("project_id"), site_id__in=member_sites)))
    return ~Q(role__in=SCOPED_ROLES) | at_member_site


def person_boxes(*, asset: Asset, n: int, project_ids: Iterable[int]) -> list[list[float]]:
    """The `person` boxes the predictions of these projects put on frame `n` of the asset (an image's
    predictions are frame 0); another project's predictions on the same bytes are its own data."""
    on_frame = Q(frame_index=n) | Q(frame_index__isnull=True) if n == 0 else Q(frame_index=n)
    boxes: list[list[float]] = []
    predictions = Prediction.objects.filter(on_frame, asset=asset, project_id__in=list(project_ids))
    for detections in predictions.values_list("detections", flat=True):
        boxes.extend(d["box"] for d in detections if d.get("label") == "person" and len(d.get("box", ())) == 4)
    return boxes


def project_devices(*, project: Project) -> QuerySet[Device]:
    """The project's devices with their site and cameras, in three queries whatever their number."""
    return (
        Device.objects.filter(project=project).select_related("site")
        .prefetch_related(Prefetch("cameras", queryset=Camera.objects.order_by("name")))
        .order_by("site__name", "name")
    )


def project_members(*, project: Project) -> QuerySet[Membership]:
    """The project's memberships with their user and sites (three queries however many), by username."""
    return (Membership.objects.filter(project=project).select_related("user")
            .prefetch_related(Prefetch("sites", queryset=Site.objects.order_by("name"))).order_by("user__username"))


def access_member(*, user: AbstractBaseUser | AnonymousUser, project_id: int, membership_id: int) -> Membership:
    """A membership of a project the caller administers; 404 if it is not in that project."""
    project, _ = access_project(user=user, project_id=project_id, roles=[Role.ADMIN])
    membership = Membership.objects.filter(project=project, pk=membership_id).select_related("user").first()
    if membership is None:
        raise NotFound("Not found.")
    return membership


def access_device(*, user: AbstractBaseUser | AnonymousUser, device_id: int) -> Device:
    """A device of a project the caller administers (404 if no such device or not a member, 403 if not admin)."""
    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        raise NotFound("Not found.")
    access_project(user=user, project_id=device.project_id, roles=[Role.ADMIN])
    return device
