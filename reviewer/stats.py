"""Project statistics for dashboards (reads only, a fixed number of queries)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count, Q
from django.utils import timezone

from annotations.dbrouting import reporting_db
from annotations.geometry import is_correction
from annotations.models import Annotation, AnnotationOrigin, Project
from reviewer.models import ItemStatus, ReviewItem
from reviewer.selectors import queue_stats

# Figures that belong to an app built on this one (progress to retraining is learning's): each section adds its
# keys to the dashboard's stats. Registered in the owning app's AppConfig.ready(), so reviewer imports no app
# above it.
StatsSection = Callable[[Project], dict[str, Any]]
_sections: list[StatsSection] = []


def add_stats_section(section: StatsSection) -> None:
    if section not in _sections:
        _sections.append(section)


def project_stats(project: Project) -> dict[str, Any]:
    """Queue, throughput, time per item, agreement, correction rate and progress to retraining.

    The dashboard's aggregates read the reporting database (the replica when there is one: seconds behind at
    worst, annotations/dbrouting.py); the sections of the apps above stay on the primary.
    """
    using = reporting_db()
    since = timezone.now() - timedelta(days=1)
    people = Annotation.objects.using(using).filter(project=project, origin=AnnotationOrigin.PERSON)  # not the consensus versions
    recent = people.filter(submitted_at__gte=since)
    throughput = {row["author__username"]: row["n"]
                  for row in recent.values("author__username").annotate(n=Count("id")).order_by("-n")[:100]}
    times = [float(t) for t in people.filter(time_spent_seconds__isnull=False)
             .order_by("-id").values_list("time_spent_seconds", flat=True)[:1000] if t is not None]
    diffs = list(people.order_by("-id").values_list("diff", flat=True)[:1000])
    corrected = sum(1 for d in diffs if is_correction(d))
    items = ReviewItem.objects.using(using).filter(project=project).aggregate(
        agreement=Avg("agreement", filter=Q(agreement__isnull=False)),
        accepted=Count("id", filter=Q(status=ItemStatus.ACCEPTED)),
    )
    return {
        **queue_stats(project.pk, using=using),
        "throughput_24h": throughput,
        "median_seconds_per_item": statistics.median(times) if times else None,
        "agreement": items["agreement"],
        "correction_rate": corrected / len(diffs) if diffs else None,
        "accepted": items["accepted"],
        **{key: value for section in _sections for key, value in section(project).items()},
    }
