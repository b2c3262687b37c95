"""Finding and re-queueing work stored by the pre-label defect of wave 1 (issue 13, defect 1).

Before the editor kept untouched pre-labels, a submit stored only the boxes the person had touched: "Corrected /
checked" after nudging 1 of 11 boxes stored 1, and "Model was right" stored none. Such a version says the
person checked the frame while it lost boxes nobody deleted. This module finds the items whose newest person
version looks like that, and puts them back in the queue (starting again from the model's pre-label), audited.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import OuterRef, Subquery

from annotations import audit
from annotations.models import Annotation, AnnotationOrigin, Verdict
from reviewer.models import ItemStatus, ReviewItem

REQUEUE_COMMENT = ("Re-queued: when this was submitted, the editor dropped pre-label boxes the person had not "
                   "deleted. Check every box again.")


@dataclass(frozen=True)
class DroppedVersion:
    item_id: int
    project_id: int
    version: int
    verdict: str
    stored: int
    prelabels: int
    item_status: str


def find_dropped_prelabel_versions(*, project_id: int | None = None) -> list[DroppedVersion]:
    """Items whose newest version is a person's `correct`/`confirm` verdict that stored fewer boxes than the
    model's pre-label had, with boxes reported removed (or, for `confirm`, any box missing)."""
    newest = Annotation.objects.filter(review_item_id=OuterRef("review_item_id")).order_by("-version").values("id")[:1]
    versions = (Annotation.objects.filter(origin=AnnotationOrigin.PERSON, verdict__in=[Verdict.CORRECT, Verdict.CONFIRM],
                                          review_item_id__isnull=False, source_prediction__isnull=False,
                                          id=Subquery(newest))
                .select_related("source_prediction").order_by("review_item_id"))
    if project_id is not None:
        versions = versions.filter(project_id=project_id)
    found = []
    for v in versions.iterator(chunk_size=500):
        prelabels = len(v.source_prediction.detections or [])  # type: ignore[union-attr]
        stored = len(v.boxes or [])
        removed = int((v.diff or {}).get("removed") or 0)
        lost = stored < prelabels and (removed > 0 or v.verdict == Verdict.CONFIRM)
        if lost and v.review_item_id is not None:
            found.append(DroppedVersion(item_id=v.review_item_id, project_id=v.project_id, version=v.version,
                                        verdict=v.verdict, stored=stored, prelabels=prelabels, item_status=""))
    statuses = dict(ReviewItem.objects.filter(pk__in=[f.item_id for f in found]).values_list("id", "status"))
    return [replace(f, item_status=statuses.get(f.item_id, "")) for f in found]


def requeue_dropped(found: list[DroppedVersion]) -> int:
    """Put each found item back in the queue (pending, from the pre-label, with a comment saying why);
    audited as `item.requeued`. Items someone holds a lease on right now are left alone. Returns how many."""
    done = 0
    for entry in found:
        with transaction.atomic():
            item = ReviewItem.objects.select_for_update().get(pk=entry.item_id)
            if item.status == ItemStatus.LEASED:
                continue
            before = {"status": item.status, "version": entry.version}
            item.status, item.annotations_count, item.accepted_at = ItemStatus.PENDING, 0, None
            item.last_comment, item.last_comment_region = REQUEUE_COMMENT, None
            item.rework_author, item.rework_until, item.rework_from = None, None, None
            item.save(update_fields=["status", "annotations_count", "accepted_at", "last_comment",
                                     "last_comment_region", "rework_author", "rework_until", "rework_from",
                                     "updated_at"])
            audit.record(action="item.requeued", obj_type="review_item", obj_id=item.pk, project_id=item.project_id,
                         before=before, after={"status": item.status, "why": "pre-labels dropped on submit",
                                               "stored": entry.stored, "prelabels": entry.prelabels})
            done += 1
    return done
