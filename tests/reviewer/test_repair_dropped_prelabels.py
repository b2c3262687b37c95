"""Versions stored by the wave-1 editor, which dropped untouched pre-labels, are found and re-queued."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from annotations.models import Annotation, AuditEvent
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import add_member, make_items, make_project

pytestmark = pytest.mark.django_db

PRELABEL = [{"label": "person", "score": 0.8, "box": [10.0 + 40 * i, 20.0, 30.0, 60.0]} for i in range(3)]


def stored_version(item: ReviewItem, *, verdict: str, boxes: list[dict], removed: int, author) -> Annotation:
    item.prediction.detections = PRELABEL
    item.prediction.save(update_fields=["detections"])
    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.ACCEPTED)
    return Annotation.objects.create(project=item.project, asset=item.asset, review_item_id=item.pk, author=author,
                                     source_prediction=item.prediction, version=1, submitted_at=timezone.now(), verdict=verdict, boxes=boxes,
                                     diff={"added": 0, "removed": removed, "moved": 0, "kept": len(boxes)})


def test_the_report_finds_lost_boxes_and_apply_requeues_them(capsys):
    project = make_project()
    alice = add_member(project, "alice", "annotator")
    nudged, confirmed, honest, deleted_on_purpose_later = make_items(project, 4)
    stored_version(nudged, verdict="correct", boxes=PRELABEL[:1], removed=2, author=alice)
    stored_version(confirmed, verdict="confirm", boxes=[], removed=3, author=alice)
    stored_version(honest, verdict="correct", boxes=PRELABEL, removed=0, author=alice)
    stored_version(deleted_on_purpose_later, verdict="unusable", boxes=[], removed=3, author=alice)

    call_command("requeue_dropped_prelabels")
    report = capsys.readouterr().out
    assert f"item {nudged.pk} " in report and f"item {confirmed.pk} " in report and "2 items found" in report
    assert ReviewItem.objects.filter(status=ItemStatus.PENDING).count() == 0  # a report changes nothing

    call_command("requeue_dropped_prelabels", "--apply")
    assert set(ReviewItem.objects.filter(status=ItemStatus.PENDING).values_list("id", flat=True)) == \
        {nudged.pk, confirmed.pk}
    assert ReviewItem.objects.get(pk=honest.pk).status == ItemStatus.ACCEPTED
    assert AuditEvent.objects.filter(action="item.requeued").count() == 2
    assert "dropped pre-label" in ReviewItem.objects.get(pk=nudged.pk).last_comment
