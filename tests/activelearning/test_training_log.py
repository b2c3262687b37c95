"""The training log as a person reads it: no server paths, library warnings collapsed; the raw log for admins."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import transaction

from activelearning.training.log import clean_log
from activelearning.training.models import TrainingRun
from activelearning.training.threshold import freeze_dataset
from tests.factories import add_member, as_user, make_project

APP = str(settings.BASE_DIR)
RAW = [
    "loading dataset /tmp/loupe-train-7-k2j9x1/dataset/data.yaml\n",
    f"{APP}/activelearning/training/trainers/reference.py:88: step 3/10 loss 0.41\n",
    "/srv/venv/lib/python3.11/site-packages/torch/nn/modules/conv.py:456: UserWarning: Plan failed with a "
    "cudnnException\n",
    "  return F.conv2d(input, weight, bias, self.stride,\n",
    "/usr/lib/python3/dist-packages/numpy/core/fromnumeric.py:3504: RuntimeWarning: Mean of empty slice.\n",
    "  return _methods._mean(a, axis=axis, dtype=dtype,\n",
    "wrote /var/lib/loupe/secret/folder/model.onnx (epoch 10)\n",
]


def test_paths_become_placeholders_and_warnings_collapse_into_one_line():
    lines = clean_log(RAW, app_dir=APP)
    assert lines == [
        "loading dataset <run>/dataset/data.yaml",
        "activelearning/training/trainers/reference.py:88: step 3/10 loss 0.41",
        "wrote …/model.onnx (epoch 10)",
        "(2 library warnings hidden)",
    ]
    assert not any("loupe-train" in line or "site-packages" in line or "/var/lib" in line for line in lines)


@pytest.mark.django_db
def test_a_reviewer_sees_the_clean_log_and_an_admin_also_the_raw_one():
    project = make_project("log-store")
    add_member(project, "dana", "admin")
    add_member(project, "bob", "reviewer")
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    TrainingRun.objects.create(project=project, dataset_version=version, backend="command", log="".join(RAW),
                               status="failed", error="the trainer could not start: /opt/loupe/bin/train missing")
    url = f"/api/v1/projects/{project.pk}/training-runs/"
    [seen] = as_user("bob").get(url).json()
    assert seen["log_tail"][-1] == "(2 library warnings hidden)" and seen["raw_log_tail"] is None
    assert "loupe-train" not in " ".join(seen["log_tail"]) and seen["error"] == "the trainer could not start: …/train missing"
    [admin] = as_user("dana").get(url).json()
    assert admin["raw_log_tail"] == [line.rstrip("\n") for line in RAW]
