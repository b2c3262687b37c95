"""The sweep for pre-label jobs that were never sent or never finished.

Ingest sends `registry.prelabel_items` after its transaction commits. A web process killed between the commit and
the send (or a broker away at that moment) leaves queued items that no job will ever pre-label; beat runs this sweep
(LOUPE_PRELABEL_SWEEP_SECONDS), which sends them again. Re-sending is safe: an item runs at most once per model
version (PrelabelRun's constraint), so a job that was only slow finds its items done and skips them.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from activelearning import jobs
from activelearning.registry.models import ModelStatus, ModelVersion, PrelabelRun
from reviewer.models import ItemStatus, ReviewItem

CHUNK = 100
# Only recent items: the sweep repairs lost jobs, it does not pre-label a backlog older than a day.
LOOKBACK = timedelta(hours=24)


def sweep_missed_prelabels(*, older_than: timedelta) -> int:
    """Send pre-label jobs again for pending items queued under a serving champion more than `older_than` ago
    that still have no pass of it. Returns how many items were sent."""
    now = timezone.now()
    sent = 0
    for model in ModelVersion.objects.filter(status=ModelStatus.CHAMPION, out_of_service=False):
        since = max(model.promoted_at or model.created_at, now - LOOKBACK)
        done = PrelabelRun.objects.filter(review_item=OuterRef("pk"), model_version=model, frame_index__isnull=True)
        missed = list(ReviewItem.objects.filter(
            project_id=model.project_id, status=ItemStatus.PENDING, asset__isnull=False,
            created_at__gte=since, created_at__lt=now - older_than,
        ).filter(~Exists(done)).order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(missed), CHUNK):
            jobs.send("registry.prelabel_items", item_ids=missed[start:start + CHUNK])
        sent += len(missed)
    return sent
