"""The reference trainer's assignment, export layout and training on an exported dataset. Needs torch (the
`train` extra, which `make test` installs): skipped on a laptop without it, a failure in CI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

try:
    import torch
except ImportError:  # pragma: no cover - CI installs the train extra
    if os.environ.get("REQUIRE_POSTGRES") or os.environ.get("CI"):
        raise
    pytest.skip("needs torch: pip install -e '.[train]'", allow_module_level=True)

from activelearning.registry.detector import Detector  # noqa: E402
from activelearning.training.trainers import reference  # noqa: E402


def test_every_box_gets_cells_on_both_strides_and_a_shared_cell_goes_to_the_smaller_box() -> None:
    points, strides = reference.anchor_points(320)
    gt = torch.tensor([[100.0, 60.0, 140.0, 200.0], [110.0, 100.0, 130.0, 140.0], [3.0, 3.0, 9.0, 9.0]])
    owner = reference.assign(gt, points, strides)
    for index in range(3):
        mine = owner == index
        assert mine.any(), f"box {index} has no cell"
        assert set(strides[mine].tolist()) == {8.0, 16.0}
    # the small box sits inside the big one: where both could claim a cell, the small one has it
    centre_cell = int(((points[:, 0] - 120).abs() + (points[:, 1] - 120).abs()).argmin())
    assert owner[centre_cell] == 1


def test_exported_model_has_the_ultralytics_layout_and_metadata(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = reference.TinyDetector(1, 320)
    out = tmp_path / "tiny.onnx"
    reference.export_onnx(model, out, {"names": json.dumps({0: "person"}), "imgsz": "[320, 320]"})
    proto = onnx.load(str(out))
    assert {p.key: p.value for p in proto.metadata_props}["names"] == '{"0": "person"}'
    detector = Detector(out)
    assert detector.class_names == ("person",) and detector.imgsz == 320
    frame = reference.training_frame(reference.TRAIN_SEED_BASE, 320)
    tensor = reference.to_tensor([frame.image])
    head = detector.run(tensor.numpy())
    assert head.shape == (1, 5, 40 * 40 + 20 * 20)
    with torch.no_grad():
        np.testing.assert_allclose(head, model.eval()(tensor).numpy(), rtol=1e-3, atol=1e-3)
    assert (head[0, 2:4] > 0).all() and ((head[0, 4] >= 0) & (head[0, 4] <= 1)).all()
