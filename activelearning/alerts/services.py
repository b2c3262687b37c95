"""The alert sweep (docs/alerts.md); the people's actions on alerts and rules are in actions.py.

The sweep is set-based: per family of rules one query over every project (devices, cameras, telemetry, drift
states, rollouts), then the pure rules (rules.py) say which subjects violate, and the difference with the open
alerts is written in one transaction: one `INSERT … ON CONFLICT DO NOTHING RETURNING` for the new alerts and one
`UPDATE … WHERE resolved_at IS NULL RETURNING` for the cleared ones. The partial unique index (one open alert
per rule and subject) and the conditional update make two overlapping sweeps safe: only the statement that
actually changed a row gets it back, and only that sweep emits `alert.opened` / `alert.resolved` (a webhook
outbox row in the same transaction; no network I/O inside it).

Silence: an alert silenced until T is not in the bell's counts before T. A silence also covers the subject:
an alert of the same rule and subject opened before T (a flapping device) starts silenced. An alert born
silenced sends `alert.opened` only if it is still open when the silence ends (the next sweep after T), and
`alert.resolved` only goes out for an alert whose `alert.opened` did, so receivers always see pairs.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from activelearning.alerts import rules
from activelearning.alerts.models import Alert, AlertRule
from activelearning.health.models import DeviceTelemetry
from activelearning.metrics import psi
from activelearning.monitoring.models import DriftState
from activelearning.rollouts.models import Rollout, RolloutStatus
from annotations import events
from annotations.models import Camera, Device, Project
from reviewer import realtime

_CHUNK = 500  # ids per IN (…) list: under SQLite's variable limit, small statements for PostgreSQL

DEVICE_KINDS = (rules.NO_HEARTBEAT, rules.INFERENCE_BEHIND, rules.DISK_NEARLY_FULL, rules.OUTBOX_BACKLOG)
DRIFT_KINDS = (rules.DRIFT_PSI_CAMERA, rules.DRIFT_PSI_SITE, rules.DRIFT_CORRECTION_RATE, rules.DRIFT_COUNT_ERROR)


# --- Rules -------------------------------------------------------------------------------------------------


def ensure_rules(*, project_ids: Iterable[int] | None = None) -> None:
    """Write the default rule of every kind a project lacks (all projects, or these). Idempotent and safe
    under concurrency: the (project, kind) unique constraint drops a rule another sweep wrote meanwhile."""
    projects = Project.objects.all() if project_ids is None else Project.objects.filter(pk__in=list(project_ids))
    ids = list(projects.values_list("pk", flat=True))
    have = set(AlertRule.objects.filter(project_id__in=ids).values_list("project_id", "kind"))
    missing = [AlertRule(project_id=p, kind=k, params=rules.default_params(k))
               for p in ids for k in rules.KINDS if (p, k) not in have]
    if missing:
        AlertRule.objects.bulk_create(missing, ignore_conflicts=True)


# --- The sweep ---------------------------------------------------------------------------------------------


def sweep(*, now: datetime | None = None) -> dict[str, Any]:
    """Open, resolve and (after a silence) notify alerts for every project once: what changed per kind, how
    many stay open, and how long it took."""
    started = time.perf_counter()
    now = now or timezone.now()
    ensure_rules()
    rule_rows = list(AlertRule.objects.values("id", "project_id", "kind", "params", "enabled"))
    rule_id = {(r["project_id"], r["kind"]): r["id"] for r in rule_rows}
    enabled: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)
    for r in rule_rows:
        if r["enabled"] and r["kind"] in rules.KINDS:
            enabled[r["kind"]][r["project_id"]] = {**rules.default_params(r["kind"]), **(r["params"] or {})}
    violations = _violations(enabled, now)
    with transaction.atomic():
        outcome = _apply(violations, rule_id, now)
    outcome["seconds"] = round(time.perf_counter() - started, 4)
    return outcome


def _violations(enabled: dict[str, dict[int, dict[str, float]]],
                now: datetime) -> list[tuple[str, rules.Violation]]:
    """Every subject violating an enabled rule now, with the rule's kind: a handful of queries whatever the
    number of devices and cameras."""
    found: list[tuple[str, rules.Violation]] = []

    def add(kind: str, violations: list[rules.Violation]) -> None:
        found.extend((kind, v) for v in violations)

    def params(kind: str) -> dict[int, dict[str, float]]:
        return enabled.get(kind, {})

    device_projects = {p for kind in DEVICE_KINDS for p in params(kind)}
    if device_projects:
        devices = [{**d, "label": d["name"]} for d in Device.objects.filter(
            project_id__in=device_projects, revoked_at__isnull=True).values(
            "id", "project_id", "site_id", "name", "last_seen_at", "created_at", "fps", "inference_fps",
            "disk_free_bytes", "disk_total_bytes", "outbox_depth", "outbox_oldest_age_seconds")]
        add(rules.NO_HEARTBEAT, rules.silent_devices(devices, params(rules.NO_HEARTBEAT), now))
        add(rules.INFERENCE_BEHIND, rules.devices_behind(devices, params(rules.INFERENCE_BEHIND)))
        add(rules.DISK_NEARLY_FULL, rules.devices_low_on_disk(devices, params(rules.DISK_NEARLY_FULL)))
        add(rules.OUTBOX_BACKLOG, rules.devices_with_backlog(devices, params(rules.OUTBOX_BACKLOG)))
    if watchdog := params(rules.WATCHDOG_FIRED):
        add(rules.WATCHDOG_FIRED, rules.devices_watchdog_fired(_watchdog_counters(watchdog, now), watchdog))
    if offline := params(rules.CAMERA_OFFLINE):
        cameras = (Camera.objects.filter(site__project_id__in=list(offline), device__isnull=False,
                                         device__revoked_at__isnull=True)
                   .values("id", "site_id", "name", "status", "site__project_id", "site__name"))
        add(rules.CAMERA_OFFLINE, rules.cameras_offline(
            [{**c, "project_id": c["site__project_id"], "label": f"{c['site__name']}/{c['name']}"} for c in cameras],
            offline))
    drift_projects = {p for kind in DRIFT_KINDS for p in params(kind)}
    if drift_projects:
        states = [{**s, "site_id": s["camera__site_id"], "label": f"{s['camera__site__name']}/{s['camera__name']}",
                   "site_label": s["camera__site__name"]}
                  for s in DriftState.objects.filter(project_id__in=drift_projects).values(
                      "camera_id", "project_id", "camera__site_id", "camera__name", "camera__site__name", "psi",
                      "correction_rate", "count_error", "computed_at", "histogram_reference", "histogram_current")]
        add(rules.DRIFT_PSI_CAMERA, rules.cameras_over(states, params(rules.DRIFT_PSI_CAMERA), "psi"))
        add(rules.DRIFT_CORRECTION_RATE,
            rules.cameras_over(states, params(rules.DRIFT_CORRECTION_RATE), "correction_rate"))
        add(rules.DRIFT_COUNT_ERROR, rules.cameras_over(states, params(rules.DRIFT_COUNT_ERROR), "count_error"))
        add(rules.DRIFT_PSI_SITE, rules.sites_over_psi(states, params(rules.DRIFT_PSI_SITE), psi))
    if halted := params(rules.ROLLOUT_HALTED):
        newer = Rollout.objects.filter(project_id=OuterRef("project_id"), created_at__gt=OuterRef("created_at"))
        latest_halted = (Rollout.objects.filter(project_id__in=list(halted), status=RolloutStatus.HALTED)
                         .filter(~Exists(newer)).values("id", "project_id", "status", "model_id", "halt_reason"))
        add(rules.ROLLOUT_HALTED,
            rules.halted_rollouts([{**r, "label": f"rollout {r['id']}"} for r in latest_halted], halted))
    return found


def _watchdog_counters(params: dict[int, dict[str, float]], now: datetime) -> list[dict[str, Any]]:
    """Per device, the lowest and highest watchdog counter sampled within its project's window (one query:
    the projects grouped by window length)."""
    by_window: dict[float, list[int]] = defaultdict(list)
    for project_id, p in params.items():
        by_window[p["window_minutes"]].append(project_id)
    within = Q()
    for minutes, projects in by_window.items():
        within |= Q(received_at__gte=now - timedelta(minutes=minutes), device__project_id__in=projects)
    rows = (DeviceTelemetry.objects.filter(within, watchdog_restarts__isnull=False, device__revoked_at__isnull=True)
            .values("device_id", "device__project_id", "device__site_id", "device__name")
            .annotate(hi=Max("watchdog_restarts"), lo=Min("watchdog_restarts")))
    return [{"id": r["device_id"], "project_id": r["device__project_id"], "site_id": r["device__site_id"],
             "label": r["device__name"], "hi": r["hi"], "lo": r["lo"]} for r in rows]


def _apply(violations: list[tuple[str, rules.Violation]], rule_id: dict[tuple[int, str], int],
           now: datetime) -> dict[str, Any]:
    """Write the difference between what violates now and what is open; call inside a transaction."""
    violating: dict[tuple[int, str, int], tuple[str, rules.Violation]] = {}
    for kind, v in violations:
        violating[(rule_id[(v.project_id, kind)], v.subject_type, v.subject_id)] = (kind, v)
    open_rows = {(a["rule_id"], a["subject_type"], a["subject_id"]): a for a in Alert.objects.filter(
        resolved_at__isnull=True).values("id", "rule_id", "subject_type", "subject_id", "kind", "notified",
                                         "silenced_until", "last_value")}
    to_open = [key for key in violating if key not in open_rows]
    to_resolve = [a["id"] for key, a in open_rows.items() if key not in violating]
    changed_values = [Alert(pk=a["id"], last_value=_json(violating[key][1].value)) for key, a in open_rows.items()
                      if key in violating and a["last_value"] != _json(violating[key][1].value)]
    if changed_values:
        Alert.objects.bulk_update(changed_values, ["last_value"], batch_size=_CHUNK)
    opened = _open(to_open, violating, now)
    resolved = _resolve(to_resolve, now)
    late = [a["id"] for key, a in open_rows.items() if key in violating and not a["notified"]
            and (a["silenced_until"] is None or a["silenced_until"] <= now)]
    late_notified = _notify_late(late)
    touched: Counter[int] = Counter()
    for row in (*opened, *resolved, *late_notified):
        touched[row["project_id"]] += 1
    for project_id in touched:
        realtime.publish(project_id=project_id, message={"type": "alerts.changed"})
    still_open = Counter(a["kind"] for key, a in open_rows.items() if key in violating)
    still_open.update(r["kind"] for r in opened)
    return {"opened": dict(Counter(r["kind"] for r in opened)),
            "resolved": dict(Counter(r["kind"] for r in resolved)),
            "notified_after_silence": len(late_notified), "open": dict(still_open),
            "violations": len(violating)}


def _json(value: dict[str, Any]) -> dict[str, Any]:
    """The value as the JSON column returns it (so comparing with the stored one is exact)."""
    return json.loads(json.dumps(value, default=str))


_COLUMNS = ("project_id", "rule_id", "kind", "severity", "subject_type", "subject_id", "subject_label", "site_id",
            "opened_at", "details", "last_value", "notified", "acknowledge_note", "silenced_until", "silenced_by_id",
            "silence_reason")
_RETURNED = ("id", "project_id", "kind", "severity", "subject_type", "subject_id", "subject_label", "site_id",
             "opened_at", "resolved_at", "details", "notified")


def _open(keys: list[tuple[int, str, int]], violating: dict[tuple[int, str, int], tuple[str, rules.Violation]],
          now: datetime) -> list[dict[str, Any]]:
    """Insert the new alerts; the rows actually inserted (another sweep may have opened some first)."""
    if not keys:
        return []
    silences = _active_silences(keys, now)
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    table = Alert._meta.db_table
    placeholders = "(" + ", ".join(f"%s{json_cast}" if c in ("details", "last_value") else "%s"
                                   for c in _COLUMNS) + ")"
    inserted: list[dict[str, Any]] = []
    for chunk in _chunks(keys):
        params: list[Any] = []
        for key in chunk:
            kind, v = violating[key]
            until, by, reason = silences.get(key, (None, None, ""))
            value = json.dumps(v.value, default=str)
            params += [v.project_id, key[0], kind, rules.KINDS[kind].severity, v.subject_type, v.subject_id,
                       v.label[:250], v.site_id, now, value, value, until is None, "", until, by, reason]
        sql = (f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608 (our column names only)
               f"{', '.join([placeholders] * len(chunk))} ON CONFLICT DO NOTHING RETURNING {', '.join(_RETURNED)}")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted += [_row(values) for values in cursor.fetchall()]
    for row in inserted:
        if row["notified"]:
            _emit("alert.opened", row)
    return inserted


def _active_silences(keys: list[tuple[int, str, int]],
                     now: datetime) -> dict[tuple[int, str, int], tuple[datetime, int | None, str]]:
    """The silences still running on these (rule, subject) pairs, from their latest alerts: one query over the
    few alerts with a silence in force."""
    wanted = set(keys)
    out: dict[tuple[int, str, int], tuple[datetime, int | None, str]] = {}
    rows = (Alert.objects.filter(silenced_until__gt=now, rule_id__in={k[0] for k in keys})
            .order_by("opened_at", "id")
            .values_list("rule_id", "subject_type", "subject_id", "silenced_until", "silenced_by_id", "silence_reason"))
    for rule, subject_type, subject_id, until, by, reason in rows:
        if until is not None and (rule, subject_type, subject_id) in wanted:
            out[(rule, subject_type, subject_id)] = (until, by, reason)  # the latest wins (ascending order)
    return out


def _resolve(ids: list[int], now: datetime) -> list[dict[str, Any]]:
    """Close these alerts; the rows this statement closed (not those another sweep closed first)."""
    table = Alert._meta.db_table
    resolved: list[dict[str, Any]] = []
    for chunk in _chunks(ids):
        sql = (f"UPDATE {table} SET resolved_at = %s WHERE resolved_at IS NULL "  # noqa: S608
               f"AND id IN ({', '.join(['%s'] * len(chunk))}) RETURNING {', '.join(_RETURNED)}")
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, *chunk])
            resolved += [_row(values) for values in cursor.fetchall()]
    for row in resolved:
        if row["notified"]:  # its opening was announced: announce the end too
            _emit("alert.resolved", row)
    return resolved


def _notify_late(ids: list[int]) -> list[dict[str, Any]]:
    """Announce the alerts born silenced that are still open now that their silence ended (once: the
    conditional update is what two sweeps race on)."""
    table = Alert._meta.db_table
    announced: list[dict[str, Any]] = []
    true = "TRUE" if connection.vendor == "postgresql" else "1"
    for chunk in _chunks(ids):
        sql = (f"UPDATE {table} SET notified = {true} WHERE NOT notified AND resolved_at IS NULL "  # noqa: S608
               f"AND id IN ({', '.join(['%s'] * len(chunk))}) RETURNING {', '.join(_RETURNED)}")
        with connection.cursor() as cursor:
            cursor.execute(sql, chunk)
            announced += [_row(values) for values in cursor.fetchall()]
    for row in announced:
        _emit("alert.opened", row)
    return announced


def _row(values: Iterable[Any]) -> dict[str, Any]:
    row = dict(zip(_RETURNED, values, strict=True))
    if isinstance(row["details"], str | bytes):  # SQLite returns the JSON text
        row["details"] = json.loads(row["details"])
    for name in ("opened_at", "resolved_at"):
        if isinstance(row[name], str):  # SQLite's raw cursor gives text
            row[name] = datetime.fromisoformat(row[name])
    row["notified"] = bool(row["notified"])
    return row


def alert_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The facts of `alert.opened` / `alert.resolved` (the webhook's `data`)."""
    return {"alert": row["id"], "kind": row["kind"], "severity": row["severity"],
            "subject_type": row["subject_type"], "subject_id": row["subject_id"], "subject": row["subject_label"],
            "site": row["site_id"], "opened_at": _iso(row["opened_at"]), "resolved_at": _iso(row["resolved_at"]),
            "details": row["details"]}


def _emit(name: events.EventName, row: dict[str, Any]) -> None:
    events.emit(name, project_id=row["project_id"], **alert_payload(row))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
