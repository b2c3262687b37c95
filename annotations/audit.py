"""Writing the audit trail: one call per state change, inside the change's transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from annotations.models import AuditEvent
from config.request_id import current_request_id


def record(*, action: str, obj_type: str, obj_id: object, project_id: int | None,
           actor: AbstractBaseUser | AnonymousUser | None = None, before: Any = None, after: Any = None,
           request_id: str = "") -> AuditEvent:
    """Append an AuditEvent. Call inside the transaction of the change it describes."""
    return AuditEvent.objects.create(
        project_id=project_id, actor_id=actor.pk if actor is not None and actor.is_authenticated else None,
        action=action, object_type=obj_type, object_id=str(obj_id), before=before, after=after,
        request_id=(request_id or current_request_id.get())[:64],
    )
