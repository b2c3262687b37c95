"""People's actions on alerts and rules (docs/alerts.md): reading and changing a project's rules, acknowledging
and silencing an alert. Each is one transaction with its audit event and, after the commit, an `alerts.changed`
push so every open bell re-reads its counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.models import User as Account
from django.db import transaction
from django.utils import timezone

from activelearning.alerts import rules
from activelearning.alerts.models import Alert, AlertRule
from activelearning.alerts.services import ensure_rules
from annotations import audit
from annotations.errors import Conflict, InvalidInput
from annotations.models import Project
from reviewer import realtime

User = AbstractBaseUser | AnonymousUser

MAX_SILENCE_MINUTES = 7 * 24 * 60
NOTE_LIMIT = 500


class AlertResolved(Conflict):
    code = "alert_resolved"


# --- Rules -------------------------------------------------------------------------------------------------


def rules_of(project: Project) -> list[AlertRule]:
    """The project's rules, one per kind in the kinds' order (the defaults written on first read)."""
    ensure_rules(project_ids=[project.pk])
    order = list(rules.KINDS)
    found = list(AlertRule.objects.filter(project=project, kind__in=order).select_related("updated_by"))
    return sorted(found, key=lambda r: order.index(r.kind))


def effective_params(rule: AlertRule) -> dict[str, float]:
    """Stored thresholds over the kind's defaults (a threshold added to a kind later takes its default)."""
    return {**rules.default_params(rule.kind), **{k: v for k, v in (rule.params or {}).items()
                                                   if k in rules.KINDS[rule.kind].params}}


@transaction.atomic
def update_rules(*, project: Project, user: User, changes: list[dict[str, Any]]) -> list[AlertRule]:
    """Change thresholds and `enabled` of some of the project's rules; 400 beside the rule's field for any bad
    one, nothing stored. A disabled rule's open alerts resolve at the next sweep."""
    errors: dict[str, Any] = {}
    validated: dict[str, dict[str, Any]] = {}
    for index, change in enumerate(changes):
        kind = change.get("kind")
        if kind not in rules.KINDS:
            errors[str(index)] = {"kind": [f"Not an alert kind; expected one of: {', '.join(rules.KINDS)}."]}
            continue
        if kind in validated:
            errors[str(index)] = {"kind": ["This kind appears twice."]}
            continue
        entry: dict[str, Any] = {}
        if "params" in change:
            params, problems = rules.validate_params(kind, change["params"])
            if problems:
                errors[str(index)] = {"params": problems}
                continue
            entry["params"] = params
        if "enabled" in change:
            entry["enabled"] = bool(change["enabled"])
        validated[kind] = entry
    if errors:
        raise InvalidInput("Some alert rules are not valid.", details={"rules": errors})
    current = {r.kind: r for r in rules_of(project)}
    for kind, entry in validated.items():
        rule = current[kind]
        before = {"params": effective_params(rule), "enabled": rule.enabled}
        if "params" in entry:
            rule.params = entry["params"]
        if "enabled" in entry:
            rule.enabled = entry["enabled"]
        rule.updated_by = user if isinstance(user, Account) else None
        rule.save(update_fields=["params", "enabled", "updated_by", "updated_at"])
        audit.record(action="alert_rule.updated", obj_type="alert_rule", obj_id=rule.pk, project_id=project.pk,
                     actor=user, before=before, after={"params": effective_params(rule), "enabled": rule.enabled})
    return rules_of(project)


# --- People's actions --------------------------------------------------------------------------------------


def _note(field: str, text: Any, *, required: bool) -> str:
    if not isinstance(text, str):
        raise InvalidInput("Text is expected.", details={field: ["Text is expected."]})
    text = text.strip()
    if required and not text:
        raise InvalidInput("Say why.", details={field: ["This field is required."]})
    if len(text) > NOTE_LIMIT:
        raise InvalidInput(f"At most {NOTE_LIMIT} characters.",
                           details={field: [f"At most {NOTE_LIMIT} characters."]})
    return text


@transaction.atomic
def acknowledge(*, alert: Alert, user: User, note: Any = "", now: datetime | None = None) -> Alert:
    """Someone is on it: who, when and a note. Only an open alert (409 once resolved)."""
    note = _note("note", note, required=False)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.resolved_at is not None:
        raise AlertResolved("This alert has already resolved.")
    alert.acknowledged_by = user if isinstance(user, Account) else None
    alert.acknowledged_at, alert.acknowledge_note = now or timezone.now(), note
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledge_note"])
    audit.record(action="alert.acknowledged", obj_type="alert", obj_id=alert.pk, project_id=alert.project_id,
                 actor=user, after={"note": note})
    realtime.publish(project_id=alert.project_id, message={"type": "alerts.changed"})
    return alert


@transaction.atomic
def silence(*, alert: Alert, user: User, minutes: Any, reason: Any, now: datetime | None = None) -> Alert:
    """Keep an open alert (and any reopening of it, for the same rule and subject) out of the bell and the
    webhooks for `minutes` (1 to a week), with who and why."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_SILENCE_MINUTES:
        raise InvalidInput("The silence must last 1 to 10080 minutes.",
                           details={"minutes": [f"A whole number of minutes from 1 to {MAX_SILENCE_MINUTES}."]})
    reason = _note("reason", reason, required=True)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.resolved_at is not None:
        raise AlertResolved("This alert has already resolved.")
    before = {"silenced_until": _iso(alert.silenced_until)}
    alert.silenced_until = (now or timezone.now()) + timedelta(minutes=minutes)
    alert.silenced_by = user if isinstance(user, Account) else None
    alert.silence_reason = reason
    alert.save(update_fields=["silenced_until", "silenced_by", "silence_reason"])
    audit.record(action="alert.silenced", obj_type="alert", obj_id=alert.pk, project_id=alert.project_id,
                 actor=user, before=before, after={"silenced_until": _iso(alert.silenced_until), "reason": reason})
    realtime.publish(project_id=alert.project_id, message={"type": "alerts.changed"})
    return alert


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
