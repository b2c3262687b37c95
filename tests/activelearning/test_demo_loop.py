"""The loop end to end at small sizes: device API → oracle through the people API → exactly one retrain →
dataset version → the real reference trainer (torch) → candidate and gate → admin promotion → the device
downloads it and reports it. Whether a tiny training wins is not asserted here (`approve="always"`); the
full-size `manage.py demo_loop` reports that."""

from __future__ import annotations

import pytest

from activelearning.datasets.models import DatasetVersion
from activelearning.demo.loop import LoopConfig, run_loop
from activelearning.registry.models import ModelVersion
from activelearning.training.models import RetrainRequest, TrainingRun
from annotations.models import AuditEvent, Device, Prediction, PredictionSource

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_loop_closes_on_synthetic_data(postgres):
    lines: list[str] = []
    report = run_loop(LoopConfig(field_frames=12, threshold=10, epochs=1, eval_frames=4, seed=5, approve="always"),
                      say=lines.append)
    assert report.events == 12 and report.accepted == 12 and report.retrain_requests == 1
    assert RetrainRequest.objects.count() == 1 and DatasetVersion.objects.count() == 1
    assert report.dataset["items"] == 10  # frozen when the tenth acceptance crossed the threshold
    run = TrainingRun.objects.get()
    assert run.status == "succeeded" and "fine-tuning from" in run.log
    candidate = run.model_version
    assert candidate.dataset_version_id == DatasetVersion.objects.get().pk and candidate.metadata["weights"]
    assert candidate.evaluations.exists()  # the gate's shadow evaluation ran
    assert ModelVersion.objects.get(project=candidate.project, status="champion") == candidate
    assert report.promoted and Device.objects.get(project=candidate.project).model_sha256 == candidate.sha256
    assert AuditEvent.objects.filter(action="model.promoted", object_id=str(candidate.pk)).exists()
    # The device's predictions and the server's pre-labels both came from the demo champion.
    assert Prediction.objects.filter(source=PredictionSource.SERVER).count() >= 12
    assert set(report.before["slices"]["field"]) == {"IR night, crowded", "ordinary"}
    assert any(line.startswith("slice") for line in lines)
