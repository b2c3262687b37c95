"""Reads for alerts: the alerts a member may see, the bell's counts."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from activelearning.alerts.models import Alert
from activelearning.alerts.rules import SEVERITIES
from annotations.errors import NotFound
from annotations.models import SCOPED_ROLES, Membership, Project


def visible_alerts(project: Project, membership: Membership) -> QuerySet[Alert]:
    """The project's alerts this member may see: store managers and bus operators only their sites' (an alert
    with no site, a rollout's, is outside every site scope)."""
    alerts = Alert.objects.filter(project=project)
    if membership.role in SCOPED_ROLES:
        alerts = alerts.filter(site__in=membership.sites.all())
    return alerts


def access_alert(*, project: Project, membership: Membership, alert_id: int) -> Alert:
    """One alert the member may see (404 otherwise: no leak of its existence)."""
    alert = visible_alerts(project, membership).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("Not found.")
    return alert


def silenced(now: datetime) -> Q:
    return Q(silenced_until__gt=now)


def alert_summary(alerts: QuerySet[Alert], *, now: datetime | None = None) -> dict[str, object]:
    """The bell's figures, in one query: open alerts not silenced (`open`), of those the unacknowledged, per
    severity, and the silenced ones apart."""
    now = now or timezone.now()
    live = Q(resolved_at__isnull=True) & ~silenced(now)
    figures = alerts.aggregate(
        open=Count("pk", filter=live),
        unacknowledged=Count("pk", filter=live & Q(acknowledged_at__isnull=True)),
        silenced=Count("pk", filter=Q(resolved_at__isnull=True) & silenced(now)),
        **{f"severity_{s}": Count("pk", filter=live & Q(severity=s)) for s in SEVERITIES},
    )
    return {"open": figures["open"], "unacknowledged": figures["unacknowledged"], "silenced": figures["silenced"],
            "by_severity": {s: figures[f"severity_{s}"] for s in SEVERITIES}}
