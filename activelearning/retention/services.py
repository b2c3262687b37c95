"""Retention: a project's policy, legal holds on sites, and the prune (docs/retention.md).

A prune first computes its plan (`plan_prune`): the assets whose holding the project gives up, of those the
assets whose bytes go from storage because nothing else keeps them, the predictions and the audit events past
their limits. A dry run reports the plan and stops. A real run deletes exactly the plan's rows in one
transaction (re-checking every protection inside it, so what changed since the plan only ever keeps more),
records which bytes are due, commits, and only then deletes the bytes: no transaction is held across storage
I/O. A run cut off after its commit is finished by the next one (`finish_pending_deletions`).

What is never deleted: media in a frozen dataset version, media of a review item that is not accepted (or of
an open count flag), media and predictions of a site under legal hold, and bytes while any project still holds
the asset or any of those references exists anywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from activelearning.datasets.models import DatasetEntry
from activelearning.health.models import DeviceTelemetry
from activelearning.health.services import prune_telemetry, telemetry_cutoff
from activelearning.retention.models import LegalHold, RetentionPolicy, RetentionRun
from activelearning.retention.storage import delete_asset_files
from annotations import audit
from annotations.errors import Conflict, NotFound
from annotations.models import Annotation, Asset, AssetHolding, AuditEvent, Prediction, Project, Site
from reviewer.models import CountFlag, FlagStatus, ItemStatus, ReviewItem

log = logging.getLogger(__name__)

POLICY_FIELDS = ("unreviewed_media_days", "reviewed_media_days", "prediction_days", "audit_days")
# The audit trail answers "who changed this and when" for disputes (a fare dispute, a count a customer
# contests) and for security reviews, which look back over a year: PCI DSS 10.7 and most internal-audit
# cycles keep a year of audit history. A project may keep it longer, never shorter.
AUDIT_FLOOR_DAYS = 365
# SQLite refuses statements with more than a few thousand parameters; PostgreSQL is happier with bounded lists.
_CHUNK = 500


# --- The policy and legal holds -------------------------------------------------------------------------


def policy_of(project: Project) -> RetentionPolicy:
    """The project's policy; an unsaved one (keep everything forever) when it never set one."""
    return RetentionPolicy.objects.filter(project=project).first() or RetentionPolicy(project=project)


@transaction.atomic
def configure_retention(*, project: Project, user: AbstractBaseUser, changes: dict[str, int | None]) -> RetentionPolicy:
    """Change the named limits (already validated: days >= 1 or null, audit >= AUDIT_FLOOR_DAYS); one audit
    event with the values before and after. Fields not named keep their value."""
    Project.objects.select_for_update().get(pk=project.pk)  # concurrent changes apply one after the other
    policy = policy_of(project)
    fields = [f for f in POLICY_FIELDS if f in changes]
    before = {f: getattr(policy, f) for f in fields}
    for name in fields:
        setattr(policy, name, changes[name])
    policy.updated_by = user  # type: ignore[assignment]
    policy.save()
    audit.record(action="retention.configured", obj_type="project", obj_id=project.pk, project_id=project.pk,
                 actor=user, before=before, after={f: getattr(policy, f) for f in fields})
    return policy


@transaction.atomic
def place_legal_hold(*, site: Site, user: AbstractBaseUser, reason: str) -> LegalHold:
    """Put a site under legal hold: from now on no prune deletes its media or predictions. 409 if it already is
    (the first hold's who/why/when stand until it is released)."""
    if LegalHold.objects.select_for_update().filter(site=site).exists():
        raise Conflict("This site is already under legal hold.", code="already_held", details={"site": site.pk})
    hold = LegalHold.objects.create(site=site, held_by_id=user.pk, reason=reason)
    audit.record(action="legal_hold.placed", obj_type="site", obj_id=site.pk, project_id=site.project_id,
                 actor=user, after={"reason": reason})
    return hold


@transaction.atomic
def release_legal_hold(*, site: Site, user: AbstractBaseUser) -> None:
    """Lift a site's legal hold (404 if it has none); its media fall under the policy again at the next prune."""
    hold = LegalHold.objects.select_for_update().filter(site=site).first()
    if hold is None:
        raise NotFound("This site is not under legal hold.", code="not_held", details={"site": site.pk})
    before = {"reason": hold.reason, "held_by": hold.held_by_id, "held_at": hold.held_at.isoformat()}
    hold.delete()
    audit.record(action="legal_hold.released", obj_type="site", obj_id=site.pk, project_id=site.project_id,
                 actor=user, before=before)


# --- What is protected ---------------------------------------------------------------------------------------


def _protections(project_id: int | None, asset: OuterRef) -> list[Exists]:
    """What keeps `asset` (an outer reference to an asset id): of one project (its holding stays), or of any
    (`None`: the bytes stay). Correlated EXISTS, so PostgreSQL plans each as an anti-join over its index."""
    def scoped(qs: QuerySet[Any, Any], path: str = "project_id") -> QuerySet[Any, Any]:
        return qs if project_id is None else qs.filter(**{path: project_id})

    held_sites = scoped(LegalHold.objects.all(), "site__project_id").values("site_id")
    return [
        Exists(scoped(DatasetEntry.objects.filter(asset_id=asset), "dataset_version__project_id")),
        Exists(scoped(ReviewItem.objects.filter(asset_id=asset).exclude(status=ItemStatus.ACCEPTED))),
        Exists(scoped(ReviewItem.objects.filter(asset_id=asset, site_id__in=held_sites))),
        Exists(scoped(Prediction.objects.filter(asset_id=asset)
                      .filter(Q(camera__site_id__in=held_sites) | Q(device__site_id__in=held_sites)))),
        Exists(Asset.objects.filter(pk=asset, sha256__in=_open_flag_hashes(project_id))),
    ]


def _open_flag_hashes(project_id: int | None) -> list[str]:
    """The frames an open count flag shows its reviewer (a JSON list on the flag, so read in Python)."""
    flags = CountFlag.objects.filter(status=FlagStatus.OPEN)
    if project_id is not None:
        flags = flags.filter(project_id=project_id)
    return sorted({sha for assets in flags.values_list("assets", flat=True) for sha in (assets or [])
                   if isinstance(sha, str)})


def _unprotected(qs: QuerySet[Any, Any], project_id: int | None, path: str = "asset_id") -> QuerySet[Any, Any]:
    for protection in _protections(project_id, OuterRef(path)):
        qs = qs.exclude(protection)
    return qs


def _kept_prediction_ids(project_id: int) -> list[QuerySet[Any, Any]]:
    held_sites = LegalHold.objects.filter(site__project_id=project_id).values("site_id")
    return [
        ReviewItem.objects.filter(project_id=project_id, prediction__isnull=False).values("prediction_id"),
        Annotation.objects.filter(project_id=project_id, source_prediction__isnull=False)
        .values("source_prediction_id"),
        Prediction.objects.filter(project_id=project_id)
        .filter(Q(camera__site_id__in=held_sites) | Q(device__site_id__in=held_sites)).values("id"),
    ]


# --- The plan ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedAsset:
    id: int
    sha256: str
    bytes: int


@dataclass
class Plan:
    """What a prune of one project deletes. `media` is a subset of `holdings`: the assets whose bytes go."""

    project_id: int
    computed_at: datetime
    cutoffs: dict[str, str | None]
    holdings: list[PlannedAsset] = field(default_factory=list)
    media: list[PlannedAsset] = field(default_factory=list)
    prediction_ids: list[int] = field(default_factory=list)
    audit_event_ids: list[int] = field(default_factory=list)
    # Device telemetry past LOUPE_TELEMETRY_DAYS (a server setting, not the project's policy): only counted, as
    # the samples reference nothing and nothing references them.
    telemetry_samples: int = 0

    @property
    def bytes_freed(self) -> int:
        return sum(asset.bytes for asset in self.media)

    def report(self) -> dict[str, Any]:
        return {
            "computed_at": self.computed_at.isoformat(),
            "cutoffs": self.cutoffs,
            "holdings_removed": [a.sha256 for a in self.holdings],
            "media_deleted": [{"sha256": a.sha256, "bytes": a.bytes} for a in self.media],
            "predictions_deleted": len(self.prediction_ids),
            "audit_events_deleted": len(self.audit_event_ids),
            "telemetry_deleted": self.telemetry_samples,
            "bytes_freed": self.bytes_freed,
        }


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def plan_prune(*, project: Project, now: datetime | None = None) -> Plan:
    """What a prune of `project` would delete now, under its policy (nothing without one)."""
    now = now or timezone.now()
    policy = policy_of(project)
    unreviewed = _cutoff(now, policy.unreviewed_media_days)
    reviewed = _cutoff(now, policy.reviewed_media_days)
    predictions = _cutoff(now, policy.prediction_days)
    audit_cut = _cutoff(now, policy.audit_days)
    plan = Plan(project_id=project.pk, computed_at=now, cutoffs={
        name: cut.isoformat() if cut is not None else None
        for name, cut in (("unreviewed_media", unreviewed), ("reviewed_media", reviewed),
                          ("predictions", predictions), ("audit_events", audit_cut),
                          ("telemetry", telemetry_cutoff(now)))})
    plan.holdings = _expired_holdings(project.pk, unreviewed, reviewed)
    plan.media = _freed_media(project.pk, plan.holdings)
    if predictions is not None:
        plan.prediction_ids = sorted(_expired_predictions(project.pk, predictions).values_list("id", flat=True))
    if audit_cut is not None:
        plan.audit_event_ids = sorted(AuditEvent.objects.filter(project_id=project.pk, created_at__lt=audit_cut)
                                      .values_list("id", flat=True))
    plan.telemetry_samples = DeviceTelemetry.objects.filter(device__project_id=project.pk,
                                                            received_at__lt=telemetry_cutoff(now)).count()
    return plan


def _expired_holdings(project_id: int, unreviewed: datetime | None, reviewed: datetime | None) -> list[PlannedAsset]:
    """The project's holdings past their limit and not protected. Reviewed media (an annotation version of this
    project exists) age from the last version; the rest from the last event that used them (or the upload)."""
    if unreviewed is None and reviewed is None:
        return []
    versions = Annotation.objects.filter(project_id=project_id, asset_id=OuterRef("asset_id"))
    events = Prediction.objects.filter(project_id=project_id, asset_id=OuterRef("asset_id"))
    # "No version (event) since the cutoff" as NOT EXISTS rather than a max per row: anti-joins, set-based.
    expired = Q(pk__in=[])
    if reviewed is not None:
        expired |= Q(Exists(versions)) & ~Q(Exists(versions.filter(submitted_at__gte=reviewed)))
    if unreviewed is not None:
        expired |= (~Q(Exists(versions)) & Q(created_at__lt=unreviewed)
                    & ~Q(Exists(events.filter(received_at__gte=unreviewed))))
    holdings = AssetHolding.objects.filter(project_id=project_id).filter(expired)
    rows = _unprotected(holdings, project_id).values_list("asset_id", "asset__sha256", "asset__size_bytes")
    return [PlannedAsset(*row) for row in sorted(rows)]


def _freed_media(project_id: int, holdings: list[PlannedAsset]) -> list[PlannedAsset]:
    """Of the assets whose holding goes, those nothing else keeps: no other project's holding, no reference."""
    freed: list[PlannedAsset] = []
    for start in range(0, len(holdings), _CHUNK):
        chunk = {a.id: a for a in holdings[start:start + _CHUNK]}
        other = AssetHolding.objects.filter(asset_id=OuterRef("pk")).exclude(project_id=project_id)
        assets = (Asset.objects.filter(pk__in=chunk, media_deleted_at__isnull=True)
                  .exclude(Exists(other)))
        freed += [chunk[pk] for pk in _unprotected(assets, None, path="pk").values_list("pk", flat=True)]
    return sorted(freed, key=lambda a: a.id)


def _expired_predictions(project_id: int, cutoff: datetime) -> QuerySet[Prediction]:
    qs = Prediction.objects.filter(project_id=project_id, received_at__lt=cutoff)
    for kept in _kept_prediction_ids(project_id):
        qs = qs.exclude(id__in=kept)
    return qs


# --- The real run --------------------------------------------------------------------------------------------


def dry_run(*, project: Project) -> RetentionRun:
    """Compute and record the plan without deleting anything."""
    plan = plan_prune(project=project)
    return RetentionRun.objects.create(project=project, dry_run=True, started_at=plan.computed_at,
                                       finished_at=timezone.now(), report=plan.report())


def prune_project(*, project: Project, plan: Plan | None = None) -> RetentionRun:
    """Delete what the plan lists (computed now unless given), then the freed bytes after the commit. Call
    outside a transaction (the job and the command do).

    First finishes any earlier run cut off between its commit and its byte deletions."""
    finish_pending_deletions(project=project)
    plan = plan or plan_prune(project=project)
    run = _delete_rows(plan)
    _delete_bytes(run)
    return run


@transaction.atomic
def _delete_rows(plan: Plan) -> RetentionRun:
    """One transaction: holdings, predictions and audit rows go, the freed assets are marked; protections are
    re-checked here, so anything that gained a reference since the plan is kept."""
    project_id = plan.project_id
    # Two real runs of one project (the daily job and the command) take turns here: the second then sees the
    # first's deletions and reports only its own.
    Project.objects.select_for_update().get(pk=project_id)
    now = timezone.now()
    holding_ids = [a.id for a in plan.holdings]
    removed: set[int] = set()
    for start in range(0, len(holding_ids), _CHUNK):
        held = _unprotected(AssetHolding.objects.filter(project_id=project_id,
                                                        asset_id__in=holding_ids[start:start + _CHUNK]), project_id)
        ids = set(held.values_list("asset_id", flat=True))
        AssetHolding.objects.filter(project_id=project_id, asset_id__in=ids).delete()
        removed |= ids
    planned_media = {m.id for m in plan.media}
    freed = [a for a in _freed_media(project_id, [a for a in plan.holdings if a.id in removed])
             if a.id in planned_media]
    for start in range(0, len(freed), _CHUNK):
        # No holding left: no project may read it any more, and the bytes are due (deleted after the commit).
        Asset.objects.filter(pk__in=[a.id for a in freed[start:start + _CHUNK]]).update(media_deleted_at=now)
    predictions = 0
    for start in range(0, len(plan.prediction_ids), _CHUNK):
        chunk = plan.prediction_ids[start:start + _CHUNK]
        qs = Prediction.objects.filter(project_id=project_id, id__in=chunk)
        for kept in _kept_prediction_ids(project_id):
            qs = qs.exclude(id__in=kept)
        predictions += qs.delete()[1].get(Prediction._meta.label, 0)
    audit_events = 0
    for start in range(0, len(plan.audit_event_ids), _CHUNK):
        audit_events += AuditEvent.objects.filter(project_id=project_id,
                                                  id__in=plan.audit_event_ids[start:start + _CHUNK]).expire()
    telemetry = prune_telemetry(project_id=project_id, now=plan.computed_at)
    done = Plan(project_id=project_id, computed_at=plan.computed_at, cutoffs=plan.cutoffs,
                holdings=[a for a in plan.holdings if a.id in removed], media=freed)
    report = {**done.report(), "predictions_deleted": predictions, "audit_events_deleted": audit_events,
              "telemetry_deleted": telemetry}
    run = RetentionRun.objects.create(project_id=project_id, dry_run=False, started_at=now, report=report)
    audit.record(action="retention.pruned", obj_type="retention_run", obj_id=run.pk, project_id=project_id,
                 after={k: v for k, v in report.items() if k not in ("holdings_removed", "media_deleted")}
                 | {"holdings_removed": len(report["holdings_removed"]), "media_deleted": len(freed)})
    return run


def _delete_bytes(run: RetentionRun) -> None:
    """Delete the run's freed bytes, then mark the run finished. Call after `_delete_rows` committed (outside
    any transaction): the bytes must never go for rows that could still roll back."""
    hashes = [entry["sha256"] for entry in run.report.get("media_deleted", [])]
    held = Exists(AssetHolding.objects.filter(asset_id=OuterRef("pk")))
    for start in range(0, len(hashes), _CHUNK):
        for asset in Asset.objects.filter(sha256__in=hashes[start:start + _CHUNK]).annotate(held=held):
            if asset.media_deleted_at is None:
                continue  # an upload of the same bytes since the commit restored them: keep them
            if asset.held:
                # A project took it again between the plan and the commit: keep the bytes, lift the mark, so a
                # later prune still sees it as present.
                Asset.objects.filter(pk=asset.pk).update(media_deleted_at=None)
                continue
            delete_asset_files(name=str(asset.file.name), sha256=asset.sha256)
    RetentionRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    run.refresh_from_db()


def finish_pending_deletions(*, project: Project) -> int:
    """Finish the byte deletions of real runs whose process stopped after their commit; how many runs."""
    pending = list(RetentionRun.objects.filter(project=project, dry_run=False, finished_at__isnull=True))
    for run in pending:
        _delete_bytes(run)
    return len(pending)


def prune_everywhere(*, dry: bool = False, project_id: int | None = None) -> dict[int, int]:
    """Prune every project that has a policy or device telemetry past its bound (or only `project_id`); bytes
    freed (planned, if dry) per project. A failure in one project is logged and does not stop the others."""
    expired_telemetry = DeviceTelemetry.objects.filter(received_at__lt=telemetry_cutoff(timezone.now()))
    projects = Project.objects.filter(Q(pk__in=RetentionPolicy.objects.values("project_id"))
                                      | Q(pk__in=expired_telemetry.values("device__project_id")))
    if project_id is not None:
        projects = Project.objects.filter(pk=project_id)
    freed: dict[int, int] = {}
    for project in projects.order_by("pk"):
        try:
            run = dry_run(project=project) if dry else prune_project(project=project)
        except Exception:
            log.exception("retention prune of project %s failed", project.pk)
            continue
        freed[project.pk] = int(run.report.get("bytes_freed", 0))
    return freed
