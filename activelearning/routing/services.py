"""Writes for the routing policy: check, save (a new version), preview."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max

from activelearning.routing.models import RoutingPolicy
from activelearning.routing.policy import PolicyInvalid, facts_for_event, route_event, validate_policy
from activelearning.routing.preview import Replayed, compare_policies
from activelearning.routing.selectors import current_policy, recent_device_predictions
from annotations.errors import Conflict, Unprocessable
from annotations.models import AuditEvent, Project


def check_policy(document: Any) -> None:
    """Refuse an invalid policy document (422 `invalid_policy`, every error's JSON path and message in details)."""
    try:
        validate_policy(document)
    except PolicyInvalid as exc:
        raise Unprocessable("The routing policy is not valid.", code="invalid_policy",
                            details={"errors": exc.errors}) from exc


def save_policy(*, project: Project, document: Any, user: User | None) -> RoutingPolicy:
    """Validate and store a new version of the project's routing policy; the old versions stay."""
    check_policy(document)
    try:
        with transaction.atomic():
            latest = RoutingPolicy.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0
            policy = RoutingPolicy.objects.create(project=project, version=latest + 1, document=document,
                                                  created_by=user)
            AuditEvent.objects.create(
                project=project, actor=user, action="policy.saved", object_type="routing_policy",
                object_id=str(policy.pk), before=None, after={"version": policy.version, "document": document},
            )
    except IntegrityError as exc:
        # Two admins saved at once: the unique (project, version) refused the second.
        raise Conflict("Another policy version was saved at the same moment; reload and retry.",
                       code="policy_version_conflict") from exc
    return policy


def preview_policy(*, project: Project, document: Any, limit: int) -> dict[str, Any]:
    """Replay the project's `limit` newest device predictions and disputes through the policy in force and through
    `document`, and compare what each would queue. Stores nothing.

    Facts are rebuilt exactly as ingest builds them (`facts_for_event`), so the audit sample draws the same.
    Caps are not simulated: they depend on live counters of items already queued, so a queued event that is not
    exempt is reported as subject to caps (`subject_to_caps`) rather than kept or dropped.
    """
    check_policy(document)
    version, current = current_policy(project)
    replayed = []
    for prediction in recent_device_predictions(project, limit=limit):
        camera, asset = prediction.camera, prediction.asset
        site = camera.site.name if camera else ""
        facts = facts_for_event(
            event_type=prediction.event_type,
            reason=prediction.reason,
            detections=[(d["label"], d["score"]) for d in prediction.detections],
            site=site,
            brightness=asset.brightness if asset else None,
            blur=asset.blur if asset else None,
            device_id=prediction.device_id,
            event_id=prediction.event_id,
        )
        replayed.append(Replayed(prediction=prediction.pk, camera=camera.name if camera else "", site=site,
                                 before=route_event(current, facts), after=route_event(document, facts)))
    return {
        "limit": limit,
        "current_version": version,
        "caps_simulated": False,
        "caps": {"current": current.get("caps") or {}, "proposed": document.get("caps") or {}},
        **compare_policies(replayed),
    }
