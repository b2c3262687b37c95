"""Review writes: store an annotation version under a live lease, and QA decisions."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from annotations import audit, events, metrics, rows
from annotations.errors import Conflict, InvalidInput
from annotations.geometry import (
    box_agreement,
    box_diff,
    clip_boxes,
    consolidate,
    prelabel_diff,
    starting_boxes,
)
from annotations.models import Annotation, AnnotationOrigin, Asset, Prediction, Project, Verdict
from reviewer import realtime
from reviewer.flags import close_count_flag
from reviewer.models import ItemStatus, ReviewItem
from reviewer.queue import BACK_IN_QUEUE_SQL, UNLEASED_SQL, LeaseLost, lease_live_sql, now_sql


@dataclass
class Submission:
    #: None with verdict "confirm": the model's starting boxes (at or above the pre-label threshold).
    boxes: list[dict[str, Any]] | None
    count: int | None = None
    verdict: str = Verdict.CORRECT
    note: str = ""
    started_at: Any = None
    wrong_tracks: list[int] = field(default_factory=list)


def _qa_sampled(item: ReviewItem, rate: float) -> bool:
    digest = hashlib.blake2b(f"qa:{item.pk}:{item.annotations_count}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


def _frame_boxes(boxes: list[dict[str, Any]]) -> list[list[float]]:
    return [b["box"] for b in boxes]


def _round_versions(item: ReviewItem) -> list[Annotation]:
    """This overlap round's versions, one per annotator, newest first."""
    return list(Annotation.objects.filter(review_item_id=item.pk, origin=AnnotationOrigin.PERSON)
                .order_by("-version").only("id", "version", "boxes", "count", "verdict")[: item.required_overlap])


def _round_agreement(versions: list[Annotation]) -> float:
    """Mean pairwise box agreement of the round's versions."""
    pairs = list(combinations([v.boxes for v in versions], 2))
    if not pairs:
        return 1.0
    return sum(box_agreement(_frame_boxes(a), _frame_boxes(b)) for a, b in pairs) / len(pairs)


def _insert_consensus(item: ReviewItem, versions: list[Annotation], *, now: datetime) -> Annotation:
    """The round's consensus as the item's next version (no author): each box that a majority of the
    annotators drew, at the median of their boxes; the median count and the majority verdict. It is the
    accepted version the datasets take. Call while holding the item's and its asset's locks."""
    majority = len(versions) // 2 + 1
    oldest_first = versions[::-1]
    boxes, votes = consolidate([v.boxes for v in oldest_first], min_votes=majority)
    counts = sorted(v.count for v in versions if v.count is not None)
    verdicts = Counter(v.verdict for v in versions).most_common()
    verdict = verdicts[0][0] if verdicts[0][1] >= majority else Verdict.CORRECT
    assert item.asset_id is not None
    return _insert_version(Annotation(
        project_id=item.project_id, asset_id=item.asset_id, review_item_id=item.pk, author_id=None,
        origin=AnnotationOrigin.CONSENSUS, source_prediction_id=item.prediction_id, boxes=boxes,
        count=counts[(len(counts) - 1) // 2] if len(counts) >= majority else None, verdict=verdict,
        note=f"Consensus of {len(versions)} annotators: the boxes at least {majority} drew (IoU ≥ 0.5), "
             "at the median of theirs.",
        diff={"consensus_of": [v.version for v in oldest_first], "votes": votes}, submitted_at=now))


@metrics.timed_calls(metrics.SUBMIT_SECONDS)
@transaction.atomic
def submit_annotation(*, item: ReviewItem, user: User, lease_token: str, submission: Submission,
                      author: User | None = None) -> tuple[Annotation, bool, str]:
    """Store a new annotation version; refuse (409) unless the caller holds a live lease.

    Returns (version, created, the item's status now). A retried submit under the same lease returns the version it stored first.
    `author` is whose work it is when the lease holder submits for someone (a linked Label Studio's agent for
    the person who annotated there); by default the lease holder.
    Hand-written SQL (three statements under one transaction): this runs after every claim.
    """
    locked, live, image_size = _lock_for_submit(item.pk)
    if (locked.status != ItemStatus.LEASED or locked.lease_token != lease_token
            or locked.lease_holder_id != user.pk or not live):
        # The lease is over: either this very submit already went through (a retry) or it was lost.
        retried = Annotation.objects.filter(review_item_id=item.pk, lease_token=lease_token,
                                            author=author or user).first()
        if retried is not None:
            return retried, False, locked.status
        raise LeaseLost("The lease on this item was lost or has expired; your changes were not stored.")
    assert locked.asset_id is not None  # the lock joins the asset
    prediction = locked.prediction
    prelabel = prediction.detections if prediction else []
    threshold = locked.project.prelabel_threshold
    boxes = submission.boxes if submission.boxes is not None else starting_boxes(prelabel, threshold=threshold)
    boxes = _inside_image(boxes, *image_size)
    now = timezone.now()
    started_at = submission.started_at or locked.updated_at
    annotation = _insert_version(Annotation(
        project_id=locked.project_id, asset_id=locked.asset_id, review_item_id=locked.pk,
        author_id=(author or user).pk, source_prediction_id=locked.prediction_id, boxes=[_stored(b) for b in boxes],
        count=submission.count,
        verdict=submission.verdict, note=submission.note, lease_token=lease_token,
        diff={**prelabel_diff(prelabel, boxes, threshold=threshold),
              "count_change": (submission.count - prediction.count_value)
              if submission.count is not None and prediction and prediction.count_value is not None
              else None,
              "wrong_tracks": sorted(set(submission.wrong_tracks))},
        started_at=started_at, submitted_at=now, time_spent_seconds=(now - started_at).total_seconds(),
    ))
    before = {"status": locked.status}
    locked.annotations_count += 1
    locked.lease_holder, locked.lease_token, locked.lease_expires_at = None, "", None
    if locked.annotations_count < locked.required_overlap:
        locked.status = ItemStatus.PENDING  # more annotators needed; this one is now excluded
    elif locked.required_overlap > 1:
        versions = _round_versions(locked)
        locked.agreement = _round_agreement(versions)
        low = locked.agreement < settings.LOUPE_AGREEMENT_THRESHOLD
        locked.status = ItemStatus.SUBMITTED if low else ItemStatus.ACCEPTED
        if not low:
            _insert_consensus(locked, versions, now=now)
    elif _qa_sampled(locked, locked.project.qa_sample_rate):
        locked.status = ItemStatus.SUBMITTED
    else:
        locked.status = ItemStatus.ACCEPTED
    audit.update_logged(
        f"UPDATE {ReviewItem._meta.db_table} SET status = %s, annotations_count = %s, agreement = %s, "  # noqa: S608
        f"{UNLEASED_SQL}, rework_author_id = NULL, rework_until = NULL, rework_from_id = NULL, "
        f"updated_at = {now_sql()}, "
        f"accepted_at = CASE WHEN %s THEN {now_sql()} ELSE accepted_at END "
        "WHERE id = %s RETURNING id, project_id",
        [locked.status, locked.annotations_count, locked.agreement, locked.status == ItemStatus.ACCEPTED, locked.pk],
        action="item.submitted", obj_type="review_item", obj_id=locked.pk, project_id=locked.project_id,
        actor_id=user.pk, before=before,
        after={"status": locked.status, "annotation": annotation.pk, "version": annotation.version},
    )
    _publish_status(locked)
    return annotation, True, locked.status


@transaction.atomic
def add_outside_version(*, item: ReviewItem, author: User, boxes: list[dict[str, Any]], note: str,
                        started_at: datetime | None, actor: User) -> Annotation:
    """A new version of the item's annotation made outside a Loupe lease (an annotation updated in a linked
    Label Studio): appended with its diff against the pre-label and audited; the item's status is unchanged,
    so an accepted item's datasets take the newer version."""
    locked, _, image_size = _lock_for_submit(item.pk)
    prelabel = locked.prediction.detections if locked.prediction else []
    threshold = locked.project.prelabel_threshold
    boxes = _inside_image(boxes, *image_size)
    now = timezone.now()
    assert locked.asset_id is not None
    annotation = _insert_version(Annotation(
        project_id=locked.project_id, asset_id=locked.asset_id, review_item_id=locked.pk, author_id=author.pk,
        source_prediction_id=locked.prediction_id, boxes=[_stored(b) for b in boxes], note=note,
        diff={**prelabel_diff(prelabel, boxes, threshold=threshold), "count_change": None, "wrong_tracks": []},
        started_at=started_at if started_at and started_at <= now else None, submitted_at=now,
        time_spent_seconds=(now - started_at).total_seconds() if started_at and started_at <= now else None))
    audit.record(action="item.version_added", obj_type="review_item", obj_id=locked.pk,
                 project_id=locked.project_id, actor_id=actor.pk,
                 after={"annotation": annotation.pk, "version": annotation.version, "author": author.pk})
    return annotation


@transaction.atomic
def return_to_queue(*, item: ReviewItem, holder: User, note: str) -> bool:
    """Give an item leased to `holder` back to the queue with `note` as its last comment (what annotators see
    first), audited; False when `holder` no longer holds it (nothing changed)."""
    now = timezone.now()
    changed = audit.update_logged(
        f"UPDATE {ReviewItem._meta.db_table} SET {BACK_IN_QUEUE_SQL}, "  # noqa: S608
        f"last_comment = %s, updated_at = {now_sql()} "
        "WHERE id = %s AND status = 'leased' AND lease_holder_id = %s RETURNING id, project_id",
        [note, item.pk, holder.pk], action="item.returned", obj_type="review_item", obj_id=item.pk,
        project_id=item.project_id, actor_id=holder.pk, before={"status": "leased"},
        after={"status": "pending", "note": note})
    if changed:
        item.status, item.last_comment, item.updated_at = ItemStatus.PENDING, note, now
        _publish_status(item)
    return bool(changed)


def _inside_image(boxes: list[dict[str, Any]], width: int | None, height: int | None) -> list[dict[str, Any]]:
    """The boxes clipped to their image, as device ingest and the editor clip them (annotations.geometry); 400,
    naming each one, if any lies wholly outside it (nothing is stored). The API's `check_boxes` refuses those
    first, with the same words; this keeps the rule for every other caller."""
    kept, outside = clip_boxes(boxes, width, height)
    if outside:
        raise InvalidInput("The request is not valid.", code="invalid",
                           details={"boxes": {str(i): "entirely outside the frame" for i in outside}})
    return kept


def _stored(box: dict[str, Any]) -> dict[str, Any]:
    """A submitted box as the annotation stores it: where it came from lives in the diff, not in the box."""
    return {k: v for k, v in box.items() if k != "prelabel_index"}


def _lock_for_submit(item_id: int) -> tuple[ReviewItem, bool, tuple[int | None, int | None]]:
    """The item with its project and pre-label, its row and its asset's row locked; whether the lease is live
    by the database clock; and the image's width and height. The asset lock serialises versions per asset."""
    lock = " FOR UPDATE OF i, a" if connection.vendor == "postgresql" else ""
    sql = (
        f"SELECT {rows.columns(ReviewItem, 'i')}, {rows.columns(Project, 'pr')}, "  # noqa: S608
        f"{rows.columns(Prediction, 'p')}, a.width, a.height, COALESCE({lease_live_sql('i')}, false) "
        f"FROM {ReviewItem._meta.db_table} i JOIN {Project._meta.db_table} pr ON pr.id = i.project_id "
        f"JOIN {Asset._meta.db_table} a ON a.id = i.asset_id "
        f"LEFT JOIN {Prediction._meta.db_table} p ON p.id = i.prediction_id WHERE i.id = %s{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [item_id])
        row = cursor.fetchone()
    if row is None:
        raise NothingToAnnotate("This item has no asset to annotate.")
    n_item, n_project = rows.width(ReviewItem), rows.width(Project)
    locked = rows.from_row(ReviewItem, row[:n_item])
    locked.project = rows.from_row(Project, row[n_item:n_item + n_project])
    locked.prediction = rows.from_row(Prediction, row[n_item + n_project:-3])
    return locked, bool(row[-1]), (row[-3], row[-2])


def _insert_version(annotation: Annotation) -> Annotation:
    """INSERT the next version of the asset's annotation (the caller holds the asset's row lock)."""
    table = Annotation._meta.db_table
    fields = [f for f in Annotation._meta.concrete_fields if f.attname not in ("id", "version")]
    values = [f.get_db_prep_save(getattr(annotation, f.attname), connection) for f in fields]
    names = ", ".join(f'"{f.column}"' for f in fields)
    sql = (
        f"INSERT INTO {table} ({names}, version) SELECT {', '.join(['%s'] * len(fields))}, "  # noqa: S608
        f"COALESCE(MAX(version), 0) + 1 FROM {table} WHERE asset_id = %s RETURNING id, version"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, annotation.asset_id])
        annotation.pk, annotation.version = cursor.fetchone()  # type: ignore[misc]
    annotation._state.adding = False
    return annotation


class NothingToAnnotate(Conflict):
    code = "nothing_to_annotate"


class NotAwaitingReview(Conflict):
    code = "not_awaiting_review"


@transaction.atomic
def decide_review(*, item: ReviewItem, user: User, decision: str, comment: str,
                  region: dict[str, Any] | None = None, boxes: list[dict[str, Any]] | None = None) -> ReviewItem:
    """QA: accept the submitted work, or reject it back to the queue with a comment for the next annotator.

    With `boxes` (accept only: "fix and accept") the reviewer's corrected boxes are stored as a new version
    (origin `review`, authored by the reviewer) that becomes the item's accepted ground truth.
    The row lock makes concurrent decisions serial: the first wins, the second finds it decided (409).
    """
    locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if locked.status != ItemStatus.SUBMITTED:
        raise NotAwaitingReview("This item is not awaiting review (already decided or not submitted).",
                                details={"status": locked.status})
    before: dict[str, Any] = {"status": locked.status}
    after: dict[str, Any] = {}
    if decision == "accept":
        now = timezone.now()
        locked.status, locked.accepted_at = ItemStatus.ACCEPTED, now
        if boxes is not None:
            size = Asset.objects.filter(review_items=locked).values_list("width", "height").first() or (None, None)
            boxes = _inside_image(boxes, *size)
            fix, base = _insert_review_version(locked, user=user, boxes=boxes, now=now)
            before |= {"version": base.version, "boxes": base.boxes}
            after |= {"version": fix.version, "annotation": fix.pk, "boxes": boxes, "diff": fix.diff}
    else:
        locked.status, locked.annotations_count, locked.last_comment = ItemStatus.PENDING, 0, comment
        locked.last_comment_region = region
        _hold_for_rework(locked)
    locked.save(update_fields=["status", "annotations_count", "last_comment", "last_comment_region", "accepted_at",
                               "rework_author", "rework_until", "rework_from", "updated_at"])
    after |= {"status": locked.status, "comment": comment}
    if region is not None:
        after["region"] = region
    audit.record(action=f"item.{'accepted' if decision == 'accept' else 'rejected'}", obj_type="review_item",
                 obj_id=locked.pk, project_id=locked.project_id, actor=user, before=before, after=after)
    _publish_status(locked)
    return locked


def _hold_for_rework(item: ReviewItem) -> None:
    """Rejected work goes back to its author first (for `LOUPE_REWORK_HOLD_SECONDS`, then to anyone), starting
    from the rejected version. A consensus round has no single author: it goes back to the pool."""
    version = (Annotation.objects.filter(review_item_id=item.pk).order_by("-version")
               .only("id", "author_id", "origin").first())
    item.rework_from = version
    person = item.required_overlap == 1 and version is not None and version.origin == AnnotationOrigin.PERSON
    item.rework_author_id = version.author_id if person and version is not None else None
    item.rework_until = (timezone.now() + timedelta(seconds=settings.LOUPE_REWORK_HOLD_SECONDS)
                         if item.rework_author_id else None)


def _publish_status(item: ReviewItem) -> None:
    """Call inside the transaction that changed the item: follow-ups run now, pushes after commit."""
    if item.status == ItemStatus.ACCEPTED:
        close_count_flag(item=item)
        events.emit("item.accepted", project_id=item.project_id, item=item.pk)
        realtime.publish(project_id=item.project_id, message={"type": "item.accepted", "item": item.pk,
                                                              "site": item.site_id})
    realtime.publish_queue_stats(project_id=item.project_id)


class NothingToFix(Conflict):
    code = "nothing_to_fix"


def _insert_review_version(item: ReviewItem, *, user: User, boxes: list[dict[str, Any]],
                           now: datetime) -> tuple[Annotation, Annotation]:
    """Store the reviewer's corrected boxes as the item's next version, with the diff against the submitted
    version it fixes (and against the pre-label); returns (the new version, the one it fixes). Call while
    holding the item's row lock."""
    assert item.asset_id is not None
    Asset.objects.select_for_update().filter(pk=item.asset_id).values_list("pk").get()  # serialises versions
    base = (Annotation.objects.filter(review_item_id=item.pk).order_by("-version")
            .only("id", "version", "boxes", "count", "verdict").first())
    if base is None:
        raise NothingToFix("This item has no submitted version to fix.")
    prelabel = item.prediction.detections if item.prediction is not None else []
    fix = Annotation(
        project_id=item.project_id, asset_id=item.asset_id, review_item_id=item.pk, author_id=user.pk,
        origin=AnnotationOrigin.REVIEW, source_prediction_id=item.prediction_id, boxes=boxes, count=base.count,
        # The reviewer looked at every box: an "unusable" or "model was right" verdict no longer holds.
        verdict=Verdict.CORRECT, note="Fixed in QA and accepted.",
        diff={**box_diff(_frame_boxes(base.boxes), _frame_boxes(boxes)), "base_version": base.version,
              "vs_prelabel": box_diff(_frame_boxes(prelabel), _frame_boxes(boxes))},
        started_at=None, submitted_at=now,
    )
    return _insert_version(fix), base
