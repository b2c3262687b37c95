"""Writes for projects, sites, cameras and devices, and the audit of originals viewed."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from annotations import audit
from annotations.models import Asset, AuditEvent, Camera, Device, Project, Site


@dataclass
class IssuedDevice:
    device: Device
    token: str  # shown once; only its hash is stored


@transaction.atomic
def create_device(*, project: Project, site_name: str, camera_names: list[str], device_name: str | None = None,
                  site_kind: str = "store") -> IssuedDevice:
    """Register a device at a site (created if new) with its cameras, and issue its token."""
    site, _ = Site.objects.get_or_create(project=project, name=site_name, defaults={"kind": site_kind})
    token = Device.new_token()
    device = Device.objects.create(
        project=project, site=site, name=device_name or f"{site_name}-{camera_names[0]}",
        token_hash=Device.hash_token(token), token_prefix=token[:10],
    )
    for name in camera_names:
        camera, created = Camera.objects.get_or_create(site=site, name=name, defaults={"device": device})
        if not created:
            camera.device = device  # the new box replaces the old one on this camera
            camera.save(update_fields=["device"])
    AuditEvent.objects.create(project=project, action="device.created", object_type="device",
                              object_id=str(device.pk), after={"name": device.name, "site": site.name,
                                                               "cameras": camera_names})
    return IssuedDevice(device=device, token=token)


@transaction.atomic
def revoke_device(*, device: Device) -> None:
    """Revoke a device's token; its later requests are refused with 401."""
    Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    AuditEvent.objects.create(project=device.project, action="device.revoked", object_type="device",
                              object_id=str(device.pk))


def record_original_view(*, user: AbstractBaseUser | AnonymousUser, asset: Asset, project_id: int,
                         view: str, frame: int | None) -> None:
    """Audit that `user` was sent the unblurred original of `asset` (each time: originals are never cached)."""
    audit.record(action="asset.original_viewed", obj_type="asset", obj_id=asset.sha256, project_id=project_id,
                 actor=user, after={"sha256": asset.sha256, "view": view, "frame": frame})
