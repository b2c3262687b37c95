"""The reference trainer: a tiny anchor-free person detector trained on synthetic scenes, exported to ONNX.

Needs the `train` extra (`pip install -e '.[train]'`, i.e. torch, CPU is enough). It never downloads
weights or data: frames are drawn on the fly by `loupe_synthetic.scenes`, one seed per frame, and
the held-out frames use a seed range training never sees.

    python -m activelearning.training.trainers.reference --out activelearning/demo/people-detector.onnx

The model (about 0.9 M parameters): a stride-2 conv/BN/SiLU backbone to stride 32, a small top-down neck,
and two heads at strides 8 and 16. Every grid cell predicts its distances to the box sides (ltrb, softplus ×
stride) and a sigmoid score per class; training uses FCOS-style centre sampling on both strides, GIoU for the
boxes and a quality focal loss whose target is the IoU of the predicted box, so scores rank boxes by quality.
The exported graph decodes in-graph to the Ultralytics layout `[1, 4 + C, N]` (cx, cy, w, h in input
pixels, sigmoid scores), which `loupe_vision.geometry.decode_yolo` reads.

Why this file is long: it is the whole trainer a pipeline can copy (model, targets, losses, loop, export), kept
in one self-contained module with no import from the server.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the torch convention)
from torch import nn

from loupe_synthetic.scenes import SceneKind, render_scene
from loupe_vision.geometry import LETTERBOX_GREY

CLASSES = ("person",)
TRAIN_SEED_BASE = 1_000_000  # frame i of training is drawn with seed TRAIN_SEED_BASE + i
HELDOUT_SEEDS = range(0, 400)  # evaluation frames: never drawn in training
VALIDATION_SEEDS = range(400, 600)  # pick the operating threshold here, not on the held-out frames
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.2, 0.71, 0.05))
STRIDES = (8, 16)
CENTRE_RADIUS = 2.5  # in strides, FCOS centre sampling


# --- The network --------------------------------------------------------------------------------


class ConvBNAct(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int = 3, s: int = 1) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU())


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvBNAct(c, c // 2, 1), ConvBNAct(c // 2, c, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TinyDetector(nn.Module):
    """Backbone to stride 32, top-down fusion to strides 16 and 8, one head per stride."""

    def __init__(self, num_classes: int = 1, imgsz: int = 320) -> None:
        super().__init__()
        self.num_classes, self.imgsz = num_classes, imgsz
        self.stem = nn.Sequential(ConvBNAct(3, 16, 3, 2), ConvBNAct(16, 32, 3, 2), Residual(32))  # /4
        self.s3 = nn.Sequential(ConvBNAct(32, 64, 3, 2), Residual(64), Residual(64))  # /8
        self.s4 = nn.Sequential(ConvBNAct(64, 96, 3, 2), Residual(96), Residual(96))  # /16
        self.s5 = nn.Sequential(ConvBNAct(96, 160, 3, 2), Residual(160), Residual(160))  # /32
        self.lat5 = ConvBNAct(160, 96, 1)
        self.fuse4 = nn.Sequential(ConvBNAct(192, 96, 1), ConvBNAct(96, 96, 3))
        self.lat4 = ConvBNAct(96, 64, 1)
        self.fuse3 = nn.Sequential(ConvBNAct(128, 64, 1), ConvBNAct(64, 64, 3))
        self.head3 = nn.Sequential(ConvBNAct(64, 64, 3), nn.Conv2d(64, 4 + num_classes, 1))
        self.head4 = nn.Sequential(ConvBNAct(96, 96, 3), nn.Conv2d(96, 4 + num_classes, 1))
        for head in (self.head3, self.head4):  # start with scores near 0.01 so the loss is not swamped
            last = head[-1]
            assert isinstance(last, nn.Conv2d) and last.bias is not None
            nn.init.constant_(last.bias[4:], -4.6)
            nn.init.constant_(last.bias[:4], 0.5)
        points, strides = anchor_points(imgsz)
        self.register_buffer("points", points, persistent=False)
        self.register_buffer("strides", strides, persistent=False)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Head outputs `[B, 4 + C, N]`: ltrb logits then class logits, stride 8 cells first."""
        c3 = self.s3(self.stem(x))
        c4 = self.s4(c3)
        c5 = self.s5(c4)
        p4 = self.fuse4(torch.cat([F.interpolate(self.lat5(c5), scale_factor=2.0, mode="nearest"), c4], 1))
        p3 = self.fuse3(torch.cat([F.interpolate(self.lat4(p4), scale_factor=2.0, mode="nearest"), c3], 1))
        return torch.cat([self.head3(p3).flatten(2), self.head4(p4).flatten(2)], 2)

    def decode(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes xyxy `[B, N, 4]` in input pixels and class logits `[B, N, C]`."""
        ltrb = F.softplus(raw[:, :4]).transpose(1, 2) * self.strides[:, None]
        xy = self.points
        boxes = torch.cat([xy - ltrb[..., :2], xy + ltrb[..., 2:]], -1)
        return boxes, raw[:, 4:].transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The exported output: `[B, 4 + C, N]` with cx, cy, w, h in input pixels and sigmoid scores."""
        boxes, logits = self.decode(self.raw(x))
        centre = (boxes[..., :2] + boxes[..., 2:]) / 2
        size = boxes[..., 2:] - boxes[..., :2]
        return torch.cat([centre, size, logits.sigmoid()], -1).transpose(1, 2)


def anchor_points(imgsz: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres `[N, 2]` (x, y in input pixels) and their strides `[N]`, stride 8 first, row-major."""
    points, strides = [], []
    for stride in STRIDES:
        n = imgsz // stride
        ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        points.append(torch.stack([xs, ys], -1).reshape(-1, 2).float().add(0.5).mul(stride))
        strides.append(torch.full((n * n,), float(stride)))
    return torch.cat(points), torch.cat(strides)


# --- Data ---------------------------------------------------------------------------------------


@dataclass
class Frame:
    image: np.ndarray  # letterboxed BGR uint8, imgsz × imgsz × 3
    boxes: np.ndarray  # xyxy in input pixels, float32 [G, 4]


def scene_kind(seed: int) -> SceneKind:
    return "store" if seed % 2 == 0 else "bus"


def training_frame(seed: int, imgsz: int) -> Frame:
    """One augmented training frame: a scene at a random aspect, shifted inside the pad, maybe mirrored."""
    rng = np.random.default_rng([seed, 7])
    width = 640 if rng.random() < 0.8 else 480
    scene = render_scene(scene_kind(seed), seed, width=width, height=360, layout=int(rng.integers(0, 8)))
    boxes = np.array([[b.box[0], b.box[1], b.box[0] + b.box[2], b.box[1] + b.box[3]] for b in scene.boxes],
                     np.float32).reshape(-1, 4)
    return place(scene.image, boxes, imgsz, rng)


def place(image: np.ndarray, boxes: np.ndarray, imgsz: int, rng: np.random.Generator) -> Frame:
    """Letterbox `image` (BGR) with its xyxy `boxes` into the square input, maybe mirrored and shifted."""
    height, width = image.shape[:2]
    scale = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * scale), round(height * scale)
    content = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    boxes = boxes.astype(np.float32).reshape(-1, 4) * scale
    if rng.random() < 0.5:
        content = content[:, ::-1]
        boxes[:, [0, 2]] = new_w - boxes[:, [2, 0]]
    # Where the content sits in the square: centred as at inference most of the time, anywhere otherwise,
    # so the net learns that the grey pad is not a person wherever it shows.
    px = int(rng.integers(0, imgsz - new_w + 1)) if rng.random() < 0.5 else (imgsz - new_w) // 2
    py = int(rng.integers(0, imgsz - new_h + 1)) if rng.random() < 0.5 else (imgsz - new_h) // 2
    canvas = np.full((imgsz, imgsz, 3), LETTERBOX_GREY, np.uint8)
    canvas[py : py + new_h, px : px + new_w] = content
    boxes += np.array([px, py, px, py], np.float32)
    return Frame(canvas, boxes)


@dataclass
class Sample:
    """One frame of an exported dataset: pixels and its accepted boxes (xyxy, frame pixels)."""

    image: np.ndarray
    boxes: np.ndarray


def read_yolo_dataset(root: Path, split: str = "train") -> list[Sample]:
    """A Loupe YOLO export (`images/<split>/…`, `labels/<split>/<stem>.txt`: class cx cy w h, normalised);
    only the classes this trainer knows (`CLASSES`) are kept."""
    names = [line.split(":", 1)[1].strip().strip('"') for line in (root / "data.yaml").read_text().splitlines()
             if line.startswith("  ") and ":" in line]
    keep = {i for i, name in enumerate(names) if name in CLASSES}
    samples = []
    for path in sorted((root / "images" / split).glob("*")):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        height, width = image.shape[:2]
        label = root / "labels" / split / f"{path.stem}.txt"
        rows = [line.split() for line in (label.read_text().splitlines() if label.exists() else []) if line.strip()]
        boxes = [[(float(cx) - float(w) / 2) * width, (float(cy) - float(h) / 2) * height,
                  (float(cx) + float(w) / 2) * width, (float(cy) + float(h) / 2) * height]
                 for cls, cx, cy, w, h in rows if int(cls) in keep]
        samples.append(Sample(image, np.array(boxes, np.float32).reshape(-1, 4)))
    return samples


def weights_path(onnx_path: Path) -> Path:
    """Where the weights of an exported model are kept: `<model>.weights.npz` beside it."""
    return onnx_path.with_name(onnx_path.stem + ".weights.npz")


def save_weights(model: TinyDetector, path: Path, **info: Any) -> None:
    """The state dict as a NumPy .npz (plus `info` as JSON): loading it never unpickles anything."""
    arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as f:
        np.savez_compressed(f, **arrays, __info__=np.frombuffer(json.dumps(info).encode(), np.uint8))
    tmp.replace(path)


def load_weights(model: TinyDetector, path: Path) -> dict[str, Any]:
    """Load weights saved by `save_weights` (allow_pickle=False); returns their `info`."""
    with np.load(path, allow_pickle=False) as data:
        state = {k: torch.from_numpy(data[k]) for k in data.files if k != "__info__"}
        info = json.loads(bytes(data["__info__"]).decode()) if "__info__" in data.files else {}
    model.load_state_dict(state)
    return info


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """BGR uint8 images → float RGB `[B, 3, H, W]` 0..1, as `geometry.letterbox` gives the ONNX model."""
    batch = np.stack([img[..., ::-1] for img in images]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(batch)).float().div_(255.0)


# --- Loss ---------------------------------------------------------------------------------------


def box_iou_aligned(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU and GIoU of matching rows of two xyxy tensors `[K, 4]`."""
    lt, rb = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).clamp(min=0).prod(1) + 1e-7
    return iou, iou - (hull - union) / hull


def assign(gt: torch.Tensor, points: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """For each cell, the index of the ground-truth box it learns (-1: background).

    A cell is positive for a box when its centre is inside the box and within CENTRE_RADIUS strides of the
    box centre, on every stride; a box with no such cell on a stride gets the cell holding its centre.
    A cell claimed by several boxes learns the smallest.
    """
    n = points.shape[0]
    if gt.shape[0] == 0:
        return torch.full((n,), -1, dtype=torch.long)
    px, py = points[:, 0:1], points[:, 1:2]
    inside = (px > gt[:, 0]) & (px < gt[:, 2]) & (py > gt[:, 1]) & (py < gt[:, 3])
    cx, cy = (gt[:, 0] + gt[:, 2]) / 2, (gt[:, 1] + gt[:, 3]) / 2
    radius = CENTRE_RADIUS * strides[:, None]
    near = ((px - cx).abs() < radius) & ((py - cy).abs() < radius)
    positive = inside & near
    # The cell holding the centre of each box, on each stride (the fallback for thin or small boxes).
    offset = 0
    for stride in STRIDES:
        cells = int(math.isqrt(int((strides == stride).sum())))
        col = (cx / stride).long().clamp(0, cells - 1)
        row = (cy / stride).long().clamp(0, cells - 1)
        positive[offset + row * cells + col, torch.arange(gt.shape[0])] = True
        offset += cells * cells
    area = ((gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1]))[None, :].expand(n, -1)
    area = torch.where(positive, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(1)
    return torch.where(torch.isfinite(best_area), best, torch.full_like(best, -1))


def detection_loss(model: TinyDetector, raw: torch.Tensor, targets: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """GIoU on positive cells plus a quality focal loss over all cells (target: IoU of the predicted box)."""
    boxes, logits = model.decode(raw)
    points, strides = model.get_buffer("points"), model.get_buffer("strides")
    cls_target = torch.zeros_like(logits)
    box_losses, num_pos = [], 0
    for i, gt in enumerate(targets):
        owner = assign(gt, points, strides)
        pos = owner >= 0
        if not pos.any():
            continue
        matched = gt[owner[pos]]
        iou, giou = box_iou_aligned(boxes[i][pos], matched)
        box_losses.append((1.0 - giou).sum())
        cls_target[i, pos, 0] = iou.detach().clamp(min=0.0)
        num_pos += int(pos.sum())
    norm = max(num_pos, 1)
    prob = logits.sigmoid()
    qfl = F.binary_cross_entropy_with_logits(logits, cls_target, reduction="none") * (prob - cls_target).abs().pow(2)
    loss_cls = qfl.sum() / norm
    loss_box = (torch.stack(box_losses).sum() if box_losses else raw.sum() * 0) / norm
    return {"loss": loss_cls + 2.0 * loss_box, "cls": loss_cls.detach(), "box": loss_box.detach()}


# --- Training and export ------------------------------------------------------------------------


def train(*, steps: int, batch: int, imgsz: int, lr: float, seed: int, max_minutes: float,
          checkpoint: Path | None, log_every: int = 25, dataset: list[Sample] | None = None,
          dataset_share: float = 0.7, init: Path | None = None) -> tuple[TinyDetector, dict[str, Any]]:
    """Train on fresh synthetic frames (one new seed per frame, never reused) and, given a `dataset` (the
    accepted corrections), on its frames for `dataset_share` of each batch; from `init` weights if given
    (fine-tuning the champion), else from scratch."""
    torch.manual_seed(seed)
    model = TinyDetector(len(CLASSES), imgsz)
    if init is not None:
        load_weights(model, init)
        print(f"fine-tuning from {init}", flush=True)
    pick = np.random.default_rng([seed, 11])
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
                                  lr=lr, betas=(0.9, 0.99))
    warmup = min(200, steps // 10)
    started = time.monotonic()
    frame_seed = TRAIN_SEED_BASE + seed * 10_000_000
    done, smoothed = 0, None
    model.train()
    for step in range(steps):
        elapsed = (time.monotonic() - started) / 60
        progress = max(step / steps, elapsed / max_minutes)
        if progress >= 1.0:
            print(f"time box reached at step {step} ({elapsed:.1f} min)", flush=True)
            break
        factor = (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * progress))
        for group in optimiser.param_groups:
            group["lr"] = lr * max(factor, 0.02)
        frames = [place(sample.image, sample.boxes, imgsz, pick)
                  if dataset and pick.random() < dataset_share
                  and (sample := dataset[int(pick.integers(0, len(dataset)))]) is not None
                  else training_frame(frame_seed + step * batch + k, imgsz) for k in range(batch)]
        x = to_tensor([f.image for f in frames])
        targets = [torch.from_numpy(f.boxes) for f in frames]
        losses = detection_loss(model, model.raw(x), targets)
        optimiser.zero_grad(set_to_none=True)
        losses["loss"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimiser.step()
        done = step + 1
        value = float(losses["loss"])
        smoothed = value if smoothed is None else 0.95 * smoothed + 0.05 * value
        if step % log_every == 0 or step == steps - 1:
            print(f"step {step:5d}/{steps} loss {smoothed:.3f} (cls {float(losses['cls']):.3f} "
                  f"box {float(losses['box']):.3f}) lr {optimiser.param_groups[0]['lr']:.2e} "
                  f"{(time.monotonic() - started) / 60:.1f} min", flush=True)
        if checkpoint is not None and (done % 200 == 0):
            save_weights(model, checkpoint, steps=done)
    minutes = (time.monotonic() - started) / 60
    info = {"steps": done, "planned_steps": steps, "batch": batch, "frames_seen": done * batch,
            "train_frame_seeds": [frame_seed, frame_seed + done * batch - 1], "minutes": round(minutes, 1),
            "lr": lr, "final_loss": round(smoothed or 0.0, 4), "parameters": sum(p.numel() for p in model.parameters()),
            "dataset_frames": len(dataset or []), "init": str(init) if init else None}
    if checkpoint is not None:
        save_weights(model, checkpoint, **info)
    return model, info


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,  # noqa: S607
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def export_onnx(model: TinyDetector, out: Path, metadata: dict[str, str]) -> None:
    """Static batch 1, opset 17, input `images`, output `output0` `[1, 4 + C, N]`, metadata as Ultralytics."""
    import onnx

    model.eval()
    dummy = torch.zeros(1, 3, model.imgsz, model.imgsz)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (dummy,), str(out), opset_version=17, dynamo=False, input_names=["images"],
                      output_names=["output0"], do_constant_folding=True)
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _predict(model_path: Path, seeds: range, iou_threshold: float) -> tuple[list[Any], list[Any], list[Any]]:
    """Every prediction at score ≥ 0.001 (as COCO evaluates) through `Detector`, with truths and slice keys."""
    from activelearning.metrics import crowd_bucket
    from activelearning.registry.detector import Detector
    from loupe_synthetic.scenes import encode_jpeg

    detector = Detector(model_path, conf_threshold=0.001, iou_threshold=iou_threshold, max_det=300)
    predictions, truths, slices = [], [], []
    for seed in seeds:
        scene = render_scene(scene_kind(seed), seed, layout=seed % 8)
        predictions.append(detector.detect(encode_jpeg(scene.image)))
        truths.append([b.as_dict() for b in scene.boxes])
        slices.append({"kind": scene.meta.kind, "lighting": scene.meta.lighting,
                       "crowd": crowd_bucket(len(scene.boxes))})
    return predictions, truths, slices


def select_threshold(model_path: Path, *, iou_threshold: float) -> tuple[float, dict[str, float]]:
    """The operating score threshold: the one with the lowest count MAE on the validation seeds."""
    from activelearning.metrics import evaluate_detections

    predictions, truths, _ = _predict(model_path, VALIDATION_SEEDS, iou_threshold)
    maes = {str(t): evaluate_detections(predictions, truths, score_threshold=t, count_label="person").count_mae
            for t in THRESHOLDS}
    best = min(THRESHOLDS, key=lambda t: (maes[str(t)], t))
    return best, {k: round(v, 4) for k, v in maes.items()}


def evaluate(model_path: Path, *, conf_threshold: float, iou_threshold: float) -> dict[str, Any]:
    """Held-out metrics measured the way the server sees the model: through `Detector` and `metrics`."""
    from activelearning.metrics import evaluate_detections

    predictions, truths, slices = _predict(model_path, HELDOUT_SEEDS, iou_threshold)
    report = evaluate_detections(predictions, truths, score_threshold=conf_threshold, count_label="person",
                                 slices=slices)
    return report.as_dict()


def write_card(*, model_path: Path, command: str, train_info: dict[str, Any], conf_threshold: float,
               iou_threshold: float) -> dict[str, Any]:
    """The model card beside the model: how it was made and what it scores on held-out frames."""
    validation_mae: dict[str, float] = {}
    if conf_threshold <= 0:
        conf_threshold, validation_mae = select_threshold(model_path, iou_threshold=iou_threshold)
    evaluation = evaluate(model_path, conf_threshold=conf_threshold, iou_threshold=iou_threshold)
    card = {
        "name": model_path.stem,
        "file": model_path.name,
        "sha256": sha256_file(model_path),
        "bytes": model_path.stat().st_size,
        "task": "detect",
        "classes": dict(enumerate(CLASSES)),
        "input": {"name": "images", "shape": [1, 3, train_info["imgsz"], train_info["imgsz"]],
                  "layout": "RGB 0..1, letterboxed with grey 114"},
        "output": {"name": "output0", "layout": "[1, 4 + C, N]: cx, cy, w, h (input pixels), sigmoid class scores"},
        "made_with": {"command": command, "trainer": "activelearning.training.trainers.reference",
                      "reproducibility": "frames and initialisation are fixed by the seeds, but training is "
                                         "time-boxed: the schedule follows max(step / steps, minutes / "
                                         "max_minutes), so a rerun stops at another step on another machine; "
                                         "--steps N with a large --max-minutes gives a machine-independent run",
                      "torch": torch.__version__, "commit": train_info.get("commit"), **train_info},
        "data": {"generator": "loupe_synthetic.scenes.render_scene",
                 "train": "one fresh frame per seed in train_frame_seeds; store for even seeds, bus for odd; "
                          "80 % 640×360, 20 % 480×360; random mirror and placement in the pad",
                 "heldout_seeds": [HELDOUT_SEEDS.start, HELDOUT_SEEDS.stop - 1],
                 "validation_seeds": [VALIDATION_SEEDS.start, VALIDATION_SEEDS.stop - 1],
                 "heldout": "640×360, store for even seeds, bus for odd, layout = seed % 8, JPEG quality 85"},
        "operating_point": {"score_threshold": conf_threshold, "nms_iou": iou_threshold,
                            "chosen_by": "lowest count MAE on validation seeds "
                                         f"{VALIDATION_SEEDS.start}-{VALIDATION_SEEDS.stop - 1}"
                                         if validation_mae else "given on the command line",
                            "validation_count_mae_by_threshold": validation_mae},
        "evaluation": {"through": "activelearning.registry.detector.Detector (conf 0.001, max_det 300) and "
                                  "activelearning.metrics.evaluate_detections (count_label person); mAP "
                                  "over all predictions, P/R (IoU ≥ 0.5) and counts at the operating point",
                       **evaluation},
    }
    card_path = model_path.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the .onnx to write (the card goes beside it)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-3; 3e-4 with --init)")
    parser.add_argument("--seed", type=int, default=0, help="torch init seed; also picks the training frames")
    parser.add_argument("--max-minutes", type=float, default=40.0, help="time box; the schedule anneals to it")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, default=Path("var/reference-trainer.weights.npz"))
    parser.add_argument("--from-checkpoint", action="store_true", help="export the checkpoint, do not train")
    parser.add_argument("--card-only", action="store_true", help="re-measure an existing .onnx and rewrite its card")
    parser.add_argument("--command", help="with --card-only and no card yet: the command that trained the model")
    parser.add_argument("--conf", type=float, default=0.0,
                        help="score threshold for P/R and counts in the card (0: pick it on validation seeds)")
    parser.add_argument("--iou", type=float, default=0.5, help="NMS IoU threshold")
    parser.add_argument("--dataset", type=Path, help="a Loupe YOLO export to train on (its train split), mixed "
                        "with synthetic frames")
    parser.add_argument("--dataset-share", type=float, default=0.7, help="share of each batch from --dataset")
    parser.add_argument("--init", type=Path, help="start from these weights (.npz from save_weights)")
    parser.add_argument("--epochs", type=float, help="with --dataset: train for this many passes over it "
                        "(sets --steps from the dataset's size, the batch and the share)")
    parser.add_argument("--no-card", action="store_true", help="skip the held-out card (training backends)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python -m activelearning.training.trainers.reference " + " ".join(argv if argv is not None else sys.argv[1:])
    card_path = args.out.with_suffix(".json")
    if args.card_only:
        if card_path.exists():
            previous = json.loads(card_path.read_text())["made_with"]
        else:  # the card of a run that stopped after export: its training record is in the checkpoint
            recorded = load_weights(TinyDetector(len(CLASSES), args.imgsz), args.checkpoint)
            previous = {**recorded, "imgsz": args.imgsz, "seed": args.seed, "commit": git_commit(),
                        "command": args.command or command}
        info = {k: v for k, v in previous.items() if k not in {"command", "trainer", "torch", "reproducibility"}}
        card = write_card(model_path=args.out, command=previous["command"], train_info=info,
                          conf_threshold=args.conf, iou_threshold=args.iou)
        print(json.dumps(card["evaluation"], indent=2))
        return
    if args.from_checkpoint:
        model = TinyDetector(len(CLASSES), args.imgsz)
        info = load_weights(model, args.checkpoint)
    else:
        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        dataset = read_yolo_dataset(args.dataset) if args.dataset else None
        if dataset is not None:
            print(f"dataset {args.dataset}: {len(dataset)} frames, {sum(len(s.boxes) for s in dataset)} boxes",
                  flush=True)
            if args.epochs is not None:
                per_step = max(1.0, args.batch * args.dataset_share)
                args.steps = max(1, math.ceil(args.epochs * len(dataset) / per_step))
        # Fine-tuning keeps what the champion knows: a tenth of the from-scratch learning rate.
        lr = args.lr if args.lr is not None else (3e-4 if args.init else 3e-3)
        model, info = train(steps=args.steps, batch=args.batch, imgsz=args.imgsz, lr=lr, seed=args.seed,
                            max_minutes=args.max_minutes, checkpoint=args.checkpoint, dataset=dataset,
                            dataset_share=args.dataset_share, init=args.init)
    info = {**info, "imgsz": args.imgsz, "seed": args.seed, "commit": git_commit()}
    metadata = {
        "names": json.dumps(dict(enumerate(CLASSES))),
        "imgsz": json.dumps([args.imgsz, args.imgsz]),
        "stride": str(max(STRIDES)),
        "task": "detect",
        "description": "Loupe reference people detector (synthetic scenes)",
        "training_seed": str(args.seed),
        "training_commit": info["commit"],
        "training_steps": str(info["steps"]),
    }
    export_onnx(model, args.out, metadata)
    save_weights(model, weights_path(args.out), **info)  # the next fine-tuning starts from these
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)", flush=True)
    if args.no_card:
        return
    card = write_card(model_path=args.out, command=command, train_info=info, conf_threshold=args.conf,
                      iou_threshold=args.iou)
    print(json.dumps(card["evaluation"], indent=2))


if __name__ == "__main__":
    main()
