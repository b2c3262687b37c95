"""Closing the loop: count acceptances toward the project's threshold, request a retrain exactly once per
epoch, and dispatch it through an outbox: freeze a dataset version and queue a training run (DESIGN.md,
"Retraining").

Exactly once, by construction rather than check-then-insert:
- each acceptance increments the project's RetrainState row inside its own transaction (an upsert whose row
  lock orders concurrent acceptances), so the count each one sees is exact;
- the RetrainRequest for the epoch is inserted in that same transaction with ON CONFLICT DO NOTHING on the
  (project, epoch) unique constraint, so however many acceptances see the count at or over the threshold,
  one request exists;
- the request row is the outbox: a worker takes undispatched rows with SKIP LOCKED and, in one transaction,
  freezes the dataset version (starting the next epoch), creates the TrainingRun and marks the row
  dispatched. A crash before that commit leaves the row undispatched for the next sweep; after it, the run
  exists exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from activelearning import jobs
from activelearning.datasets.models import DatasetEntry, DatasetVersion
from activelearning.datasets.splits import FrameRef, assign_splits
from activelearning.registry.evaluation import frame_slices
from activelearning.training.models import (
    RetrainRequest,
    RetrainState,
    RetrainTrigger,
    SiteRetrainCount,
    TrainerConfig,
    TrainingRun,
)
from annotations import audit, events
from annotations.errors import Conflict
from annotations.models import Annotation, Project, Verdict
from reviewer import realtime
from reviewer.models import ItemStatus, ReviewItem


class AlreadyRequested(Conflict):
    code = "retrain_already_requested"


def retrain_progress(project: Project) -> dict[str, Any]:
    """The dashboard's progress to the next retraining: acceptances counted since the last dataset version was
    frozen (the counter that triggers it, reset at each freeze), over the project's threshold."""
    state = RetrainState.objects.filter(project=project).first()
    since = state.accepted_since if state is not None else 0
    threshold = project.retrain_threshold
    return {"retrain_threshold": threshold, "accepted_since_retrain": since,
            "threshold_progress": min(1.0, since / threshold) if threshold else None}


def count_acceptance(*, project_id: int, item: int) -> None:
    """Subscriber of `item.accepted`, inside the acceptance's transaction (annotations.events). One statement when
    the project has no per-site threshold (the common case, on the submit hot path), two when it has."""
    table, projects, trainers = RetrainState._meta.db_table, Project._meta.db_table, TrainerConfig._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (project_id, epoch, accepted_since) VALUES (%s, 0, 1) "  # noqa: S608
            f"ON CONFLICT (project_id) DO UPDATE SET accepted_since = {table}.accepted_since + 1 "
            f"RETURNING epoch, accepted_since, (SELECT retrain_threshold FROM {projects} WHERE id = %s), "
            f"(SELECT per_site_threshold FROM {trainers} WHERE project_id = %s)",
            [project_id, project_id, project_id])
        epoch, accepted, threshold, per_site = cursor.fetchone()
    if threshold and accepted >= threshold:
        _insert_request(project_id=project_id, epoch=epoch, trigger=RetrainTrigger.THRESHOLD, accepted=accepted)
    elif per_site:
        site_count = _count_for_site(project_id=project_id, item_id=item)
        if site_count is not None and site_count[1] >= per_site:
            _insert_request(project_id=project_id, epoch=epoch, trigger=RetrainTrigger.THRESHOLD,
                            accepted=accepted, site_id=site_count[0])


def _count_for_site(*, project_id: int, item_id: int) -> tuple[int, int] | None:
    """Count the acceptance toward its item's site; (site id, count since the last version), None: no site."""
    table, items = SiteRetrainCount._meta.db_table, ReviewItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (project_id, site_id, accepted_since) "  # noqa: S608
            f"SELECT %s, site_id, 1 FROM {items} WHERE id = %s AND site_id IS NOT NULL "
            f"ON CONFLICT (project_id, site_id) DO UPDATE SET accepted_since = {table}.accepted_since + 1 "
            "RETURNING site_id, accepted_since", [project_id, item_id])
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def _insert_request(*, project_id: int, epoch: int, trigger: str, accepted: int,
                    user: User | None = None, site_id: int | None = None) -> int | None:
    """The epoch's request, if this call created it (None if it existed): the constraint decides."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RetrainRequest._meta.db_table} (project_id, epoch, trigger, accepted_count, "  # noqa: S608
            "requested_by_id, created_at) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (project_id, epoch) DO NOTHING RETURNING id",
            [project_id, epoch, trigger, accepted, user.pk if user else None, timezone.now()])
        row = cursor.fetchone()
    if row is None:
        return None
    request_id = int(row[0])
    # `site`: the site whose own threshold was reached (per-site thresholds), None for the project's.
    facts = {"epoch": epoch, "accepted": accepted, "request": request_id, "site": site_id}
    audit.record(action="retrain.requested", obj_type="retrain_request", obj_id=request_id, project_id=project_id,
                 actor=user, after={**facts, "trigger": trigger})
    realtime.publish(project_id=project_id, message={"type": "training.status", "state": "threshold_reached"
                                                     if trigger == RetrainTrigger.THRESHOLD else "requested", **facts})
    if trigger == RetrainTrigger.THRESHOLD:
        events.emit("threshold.reached", project_id=project_id, **facts)
    transaction.on_commit(_kick_dispatch)
    return request_id


def _kick_dispatch() -> None:
    jobs.send("training.dispatch_requests")


@transaction.atomic
def request_retrain(*, project: Project, user: User) -> RetrainRequest:
    """An admin's "retrain now": the current epoch's request, unless one exists (409)."""
    RetrainState.objects.get_or_create(project=project)
    state = RetrainState.objects.select_for_update().get(project=project)
    created = _insert_request(project_id=project.pk, epoch=state.epoch, trigger=RetrainTrigger.MANUAL,
                              accepted=state.accepted_since, user=user)
    if created is None:
        raise AlreadyRequested("A retrain of the current data is already requested.", details={"epoch": state.epoch})
    return RetrainRequest.objects.get(pk=created)


def dispatch_retrain_requests(*, backend: str = "reference") -> list[int]:
    """Work off the outbox: each undispatched request becomes a frozen dataset version and a queued
    training run, once. Returns the new runs' ids (their tasks are sent after each commit)."""
    runs: list[int] = []
    while True:
        with transaction.atomic():
            request = (RetrainRequest.objects.select_for_update(skip_locked=True)
                       .filter(dispatched_at__isnull=True).order_by("created_at", "id").first())
            if request is None:
                return runs
            version = freeze_dataset(project_id=request.project_id, request=request)
            run = TrainingRun.objects.create(project_id=request.project_id, dataset_version=version,
                                             request=request, backend=backend)
            request.dispatched_at = timezone.now()
            request.save(update_fields=["dispatched_at"])
            audit.record(action="training.queued", obj_type="training_run", obj_id=run.pk,
                         project_id=request.project_id, after={"dataset_version": version.pk, "backend": backend})
            realtime.publish(project_id=request.project_id, message={
                "type": "training.status", "state": "queued", "run": run.pk, "dataset_version": version.number})
            if settings.LOUPE_TRAINING_AUTOSTART:  # a worker takes the run (embedded mode: a background thread)
                jobs.kick("training.run", run_id=run.pk)
            runs.append(run.pk)


def freeze_dataset(*, project_id: int, request: RetrainRequest | None = None) -> DatasetVersion:
    """Freeze every accepted annotation of the project into a new DatasetVersion and start the next epoch.

    Call inside a transaction. The RetrainState row lock orders this against acceptances: one that counted
    before it is in this version, one that counts after it belongs to the next epoch.
    """
    RetrainState.objects.get_or_create(project_id=project_id)
    state = RetrainState.objects.select_for_update().get(project_id=project_id)
    latest = Annotation.objects.filter(review_item_id=OuterRef("pk")).order_by("-version")
    items = (ReviewItem.objects.filter(project_id=project_id, status=ItemStatus.ACCEPTED, asset__isnull=False)
             .annotate(annotation_id=Subquery(latest.values("id")[:1]),
                       verdict=Subquery(latest.values("verdict")[:1]),
                       boxes=Subquery(latest.values("boxes")[:1]))
             .values("pk", "asset_id", "asset__sha256", "asset__brightness", "camera_id", "camera__name",
                     "site__name", "annotation_id", "verdict", "boxes")
             .order_by("asset__sha256", "pk"))
    rows: dict[int, dict[str, Any]] = {}
    for row in items.iterator(chunk_size=2000):
        if row["annotation_id"] is None or row["verdict"] == Verdict.UNUSABLE or row["asset_id"] in rows:
            continue
        rows[row["asset_id"]] = dict(row)
    previous = DatasetVersion.objects.filter(project_id=project_id).order_by("-number").first()
    splits, rule = assign_splits(project_id=project_id, previous=previous, frames=[
        FrameRef(asset_id=r["asset_id"], sha256=r["asset__sha256"], camera_id=r["camera_id"]) for r in rows.values()])
    entries: dict[int, DatasetEntry] = {}
    digest = hashlib.sha256()
    per_class: Counter[str] = Counter()
    per_split: Counter[str] = Counter()
    per_slice: dict[str, Counter[str]] = defaultdict(Counter)
    for frame in rows.values():
        boxes = frame["boxes"] or []
        labels = sorted(b["label"] for b in boxes)
        split = splits[frame["asset_id"]]
        slices = frame_slices(site=frame["site__name"], camera=frame["camera__name"], brightness=frame["asset__brightness"],
                              people=len(boxes))
        entries[frame["asset_id"]] = DatasetEntry(asset_id=frame["asset_id"], annotation_id=frame["annotation_id"],
                                                review_item_id=frame["pk"], split=split, slices=slices)
        digest.update(json.dumps([frame["asset__sha256"], frame["annotation_id"], labels, split]).encode())
        per_class.update(labels)
        per_split[split] += 1
        for key, value in slices.items():
            per_slice[key][value] += 1
    version = DatasetVersion.objects.create(
        project_id=project_id, number=(previous.number if previous else 0) + 1, parent=previous, request=request,
        content_hash=digest.hexdigest(),
        stats={"items": len(entries), "boxes": sum(per_class.values()), "boxes_per_class": dict(per_class),
               "per_split": dict(per_split), "split_rule": rule, "per_slice": {k: dict(v) for k, v in per_slice.items()},
               "epoch": state.epoch})
    for entry in entries.values():
        entry.dataset_version = version
    DatasetEntry.objects.bulk_create(entries.values(), batch_size=2000)
    state.epoch, state.accepted_since = state.epoch + 1, 0
    state.save(update_fields=["epoch", "accepted_since"])
    SiteRetrainCount.objects.filter(project_id=project_id).update(accepted_since=0)
    audit.record(action="dataset.frozen", obj_type="dataset_version", obj_id=version.pk, project_id=project_id,
                 after={"number": version.number, "content_hash": version.content_hash, "items": len(entries)})
    return version


def dataset_content_hash(version: DatasetVersion) -> str:
    """Recompute a version's hash from its entries (a check that nothing changed underneath)."""
    digest = hashlib.sha256()
    entries = (DatasetEntry.objects.filter(dataset_version=version)
               .values_list("asset__sha256", "annotation_id", "annotation__boxes", "split")
               .order_by("asset__sha256"))
    for sha, annotation_id, boxes, split in entries.iterator(chunk_size=2000):
        labels = sorted(b["label"] for b in boxes or [])
        digest.update(json.dumps([sha, annotation_id, labels, split]).encode())
    return digest.hexdigest()


@transaction.atomic
def configure_retraining(*, project: Project, user: User, changes: dict[str, Any],
                         threshold: int | None = None) -> TrainerConfig:
    """Change the project's retraining threshold and trainer settings (validated values); audited with the
    values before and after (a webhook secret only as "set")."""
    config = TrainerConfig.objects.select_for_update().get_or_create(project_id=project.pk)[0]
    project = Project.objects.select_for_update().get(pk=project.pk)
    fields = [f for f in changes if f != "webhook_secret"]

    def snapshot() -> dict[str, Any]:
        state = {f: getattr(config, f) for f in fields}
        if "webhook_secret" in changes:
            state["webhook_secret"] = "set" if config.webhook_secret else ""
        if threshold is not None:
            state["threshold"] = project.retrain_threshold
        return state

    before = snapshot()
    for field, value in changes.items():
        setattr(config, field, value)
    config.save()
    if threshold is not None:
        project.retrain_threshold = threshold
        project.save(update_fields=["retrain_threshold"])
    config.project = project
    audit.record(action="trainer.configured", obj_type="project", obj_id=project.pk, project_id=project.pk,
                 actor=user, before=before, after=snapshot())
    return config
