"""The datasets' background job: writing an export's archive."""

from __future__ import annotations

from celery import shared_task

from activelearning.datasets.exports import run_export


@shared_task(name="datasets.export", acks_late=True, ignore_result=True)
def export_dataset_task(*, job_id: int) -> None:
    """Write one export's archive; a redelivered task starts over and writes the same bytes."""
    run_export(job_id=job_id)
