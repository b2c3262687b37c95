"""Writes for projects, members, sites, cameras and devices, and the audit of originals viewed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotations import audit, events
from annotations.errors import Conflict, Forbidden, InvalidInput, LastAdmin
from annotations.models import (
    SCOPED_ROLES,
    Asset,
    Camera,
    Device,
    Membership,
    Project,
    Role,
    Site,
)


@dataclass
class IssuedDevice:
    device: Device
    token: str  # shown once; only its hash is stored


@transaction.atomic
def create_device(*, project: Project, site_name: str, camera_names: list[str], device_name: str | None = None,
                  site_kind: str = "store", actor: AbstractBaseUser | None = None) -> IssuedDevice:
    """Register a device at a site (created if new) with its cameras, and issue its token.

    400 (`invalid`, details by field) if the project already has a device of that name; a camera already at the
    site moves to the new device (the new box replaces the old one).
    """
    name = device_name or f"{site_name}-{camera_names[0]}"
    if Device.objects.filter(project=project, name=name).exists():
        raise InvalidInput("This project already has a device of that name.",
                           details={"name": [f"A device named {name!r} is already registered: choose another name."]})
    site, _ = Site.objects.get_or_create(project=project, name=site_name, defaults={"kind": site_kind})
    token = Device.new_token()
    device = Device.objects.create(
        project=project, site=site, name=name, token_hash=Device.hash_token(token), token_prefix=token[:10],
    )
    for camera_name in camera_names:
        camera, created = Camera.objects.get_or_create(site=site, name=camera_name, defaults={"device": device})
        if not created:
            camera.device = device  # the new box replaces the old one on this camera
            camera.save(update_fields=["device"])
    audit.record(action="device.created", obj_type="device", obj_id=device.pk, project_id=project.pk, actor=actor,
                 after={"name": device.name, "site": site.name, "cameras": camera_names})
    return IssuedDevice(device=device, token=token)


@transaction.atomic
def revoke_device(*, device: Device, actor: AbstractBaseUser | None = None) -> Device:
    """Revoke a device's token; its later requests are refused with 401. Revoking it again changes nothing."""
    if Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        audit.record(action="device.revoked", obj_type="device", obj_id=device.pk, project_id=device.project_id,
                     actor=actor, after={"name": device.name})
    device.refresh_from_db(fields=["revoked_at"])
    return device


def record_original_view(*, user: AbstractBaseUser | AnonymousUser, asset: Asset, project_id: int,
                         view: str, frame: int | None) -> None:
    """Audit that `user` was sent the unblurred original of `asset` (each time: originals are never cached)."""
    audit.record(action="asset.original_viewed", obj_type="asset", obj_id=asset.sha256, project_id=project_id,
                 actor=user, after={"sha256": asset.sha256, "view": view, "frame": frame})


def project_sites(*, project: Project, site_ids: Iterable[int]) -> list[Site]:
    """The project's sites with these ids; 400 `unknown_site` (details under `sites`) if any is not in it."""
    wanted = set(site_ids)
    sites = list(Site.objects.filter(project=project, pk__in=wanted).order_by("name"))
    missing = sorted(wanted - {s.pk for s in sites})
    if missing:
        raise InvalidInput("Some sites are not in this project.", code="unknown_site",
                           details={"sites": [f"Not a site of this project: {', '.join(map(str, missing))}."]})
    return sites


def _lock_member(membership: Membership) -> tuple[Membership, list[int]]:
    """Lock the membership and its project's admin rows, in one statement and id order (so two admins demoting
    each other at once queue up instead of deadlocking); return it fresh and the admins' ids."""
    rows = list(Membership.objects.select_for_update(of=("self",)).select_related("user", "project")
                .filter(Q(project_id=membership.project_id, role=Role.ADMIN) | Q(pk=membership.pk)).order_by("pk"))
    locked = next(r for r in rows if r.pk == membership.pk)
    return locked, [r.pk for r in rows if r.role == Role.ADMIN]


def _refuse_losing_the_last_admin(membership: Membership, admins: list[int]) -> None:
    """409 `last_admin` if `membership` is its project's only admin."""
    if membership.role == Role.ADMIN and admins == [membership.pk]:
        raise LastAdmin("A project needs at least one admin: make someone else admin first.",
                        details={"membership": membership.pk})


def _member_state(membership: Membership, sites: Iterable[Site]) -> dict[str, object]:
    return {"username": membership.user.username, "role": membership.role, "sites": sorted(s.pk for s in sites)}


@transaction.atomic
def change_membership(*, membership: Membership, actor: AbstractBaseUser, role: str | None = None,
                      site_ids: list[int] | None = None) -> Membership:
    """Change a member's role and/or sites. Managers and operators need at least one site (they see only
    theirs); other roles see every site, so their site list is cleared. Never demotes the last admin."""
    membership, admins = _lock_member(membership)
    before_sites = list(membership.sites.all())
    before = _member_state(membership, before_sites)
    new_role = role or membership.role
    if new_role != Role.ADMIN:
        _refuse_losing_the_last_admin(membership, admins)
    sites = project_sites(project=membership.project, site_ids=site_ids) if site_ids is not None else before_sites
    if new_role not in SCOPED_ROLES:
        sites = []
    elif not sites:
        raise InvalidInput("Choose the sites this member may see.", code="invalid",
                           details={"sites": [f"A {new_role} sees only their sites: choose at least one."]})
    membership.role = new_role
    membership.save(update_fields=["role"])
    membership.sites.set(sites)
    audit.record(action="member.changed", obj_type="membership", obj_id=membership.pk,
                 project_id=membership.project_id, actor=actor, before=before, after=_member_state(membership, sites))
    events.emit("membership.changed", project_id=membership.project_id, user_id=membership.user_id)
    return membership


@transaction.atomic
def remove_membership(*, membership: Membership, actor: AbstractBaseUser) -> None:
    """Remove a member from the project (the account stays). Never removes the last admin."""
    membership, admins = _lock_member(membership)
    _refuse_losing_the_last_admin(membership, admins)
    before = _member_state(membership, membership.sites.all())
    audit.record(action="member.removed", obj_type="membership", obj_id=membership.pk,
                 project_id=membership.project_id, actor=actor, before=before)
    membership.delete()
    # Their open WebSockets close: a removed member hears nothing more of the project.
    events.emit("membership.changed", project_id=membership.project_id, user_id=membership.user_id)


# The review settings an admin may change in the app (before this, only in Django admin).
REVIEW_SETTINGS = ("qa_sample_rate", "prelabel_threshold", "consensus_overlap")


@transaction.atomic
def configure_review(*, project: Project, user: AbstractBaseUser, changes: dict[str, object]) -> Project:
    """Change a project's review settings (values already validated: rates in [0, 1], overlap >= 1); one audit
    event with the values before and after. Fields not named keep their value."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    fields = [f for f in REVIEW_SETTINGS if f in changes]
    before = {f: getattr(project, f) for f in fields}
    for field in fields:
        setattr(project, field, changes[field])
    project.save(update_fields=fields)
    audit.record(action="review_settings.configured", obj_type="project", obj_id=project.pk, project_id=project.pk,
                 actor=user, before=before, after={f: getattr(project, f) for f in fields})
    return project


@dataclass
class Invited:
    user: User
    membership: Membership
    # A pending account (new, or invited earlier and never taken): the email carries the set-password link.
    # An account in use is only told it was added: an invitation never sets a password or reactivates.
    pending: bool


def is_pending_invitee(user: User) -> bool:
    """An invited account never taken: inactive, without a usable password, never signed in. The only kind of
    inactive account a set-password link may activate (a superuser's deactivation has no such link undo it)."""
    return not user.is_active and not user.has_usable_password() and user.last_login is None


@transaction.atomic
def invite_member(*, project: Project, actor: AbstractBaseUser, username: str, email: str, role: str,
                  sites: list[Site]) -> Invited:
    """Add someone to the project, creating a pending account (no password, inactive) for a new username.

    An existing account is added only if the email given is the one it has (so an admin cannot attach, or learn
    the address of, an account they only know the username of: 409 `username_taken` otherwise), and only if it
    is not a member yet (409 `already_member`: roles change on the members page, with its last-admin rule).
    Its password, email and active state are never touched.
    """
    user, created = User.objects.get_or_create(username=username, defaults={"email": email, "is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif user.email.strip().lower() != email.strip().lower():
        raise Conflict("This username belongs to another account: check the email address or choose another "
                       "username.", code="username_taken",
                       details={"username": ["Taken by an account with a different email address."]})
    membership, added = Membership.objects.get_or_create(project=project, user=user, defaults={"role": role})
    if not added:
        raise Conflict("This person is already a member of the project: change their role on the members page.",
                       code="already_member", details={"username": ["Already a member of this project."]})
    membership.sites.set(sites)
    audit.record(action="member.invited", obj_type="membership", obj_id=membership.pk, project_id=project.pk,
                 actor=actor, after={"username": user.username, "role": role, "sites": sorted(s.pk for s in sites),
                                     "existing_account": not created})
    return Invited(user=user, membership=membership, pending=is_pending_invitee(user))


@transaction.atomic
def set_password_from_link(*, user: User, password: str) -> None:
    """Set the password of the account a valid reset or invitation link names (password already validated).

    The first password activates a pending invitee; an account a superuser deactivated stays deactivated and
    the link is refused (403 `account_disabled`), so a leftover link cannot undo the deactivation.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active and not is_pending_invitee(user):
        raise Forbidden("This account is deactivated: ask your administrator.", code="account_disabled")
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    audit.record(action="password.set", obj_type="user", obj_id=user.pk, project_id=None, actor=user)
