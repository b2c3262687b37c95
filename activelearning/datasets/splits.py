"""Which split (train / val / test) each frame of a new dataset version belongs to.

The rule, applied in this order when a version is frozen (`assign_splits`):

1. **A frame never moves.** A frame that was in the project's previous version keeps the split it had there,
   so a model trained on an earlier version is never tested on a frame it trained on.
2. **Whole cameras, when there are enough.** Every camera's split is decided the first time a version holds it
   and never changes (CameraSplit): a new camera fills an empty split first (train, then test, then val), then
   the split furthest below its share (70/15/15). When the project has at least `MIN_CAMERAS_FOR_CAMERA_SPLIT`
   decided cameras and every split has one, a new frame goes to its camera's split: no camera's look leaks
   between training and evaluation.
3. **Too few cameras: per frame, inside the cameras.** Otherwise (and always for a frame with no camera) a new
   frame goes by a stable hash of its sha256 (70/15/15). The hash depends on the frame alone, so the frame has
   the same split in every later version. Frames of one camera then sit in both train and test — the price of
   having a test set at all on a small project.
4. **Test is never empty.** If rules 1–3 leave a version of two or more frames without a test frame, the
   frame nearest the test share by its hash moves there: a new frame if there is one, else a val frame (never
   trained on). Only a version whose every frame was already in an earlier version's train split can be left
   without one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from activelearning.datasets.models import CameraSplit, DatasetEntry, DatasetVersion, Split

SPLIT_SHARES = ((Split.TRAIN, 70), (Split.VAL, 15), (Split.TEST, 15))
# Below five cameras a whole camera is a third or more of the data: per-frame splitting keeps train large.
MIN_CAMERAS_FOR_CAMERA_SPLIT = 5
FILL_ORDER = (Split.TRAIN, Split.TEST, Split.VAL)


@dataclass(frozen=True)
class FrameRef:
    asset_id: int
    sha256: str
    camera_id: int | None


def frame_bucket(sha256: str) -> int:
    """The frame's stable position in 0–99 (train below 70, val below 85, test above)."""
    return int(hashlib.sha256(f"asset:{sha256}".encode()).hexdigest()[:8], 16) % 100


def split_for(key: str) -> str:
    """train/val/test from a stable hash of `key`: 70/15/15."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100
    for split, share in SPLIT_SHARES:
        if bucket < share:
            return split
        bucket -= share
    return Split.TEST


def frame_split(sha256: str) -> str:
    """Rule 3: a frame's own split by its hash (the same key frames without a camera always used)."""
    return split_for(f"asset:{sha256}")


def share_deficit(split_share: tuple[str, int], counts: Counter[str], total: int) -> float:
    split, share = split_share
    return share / 100 * total - counts[split]


def camera_splits(project_id: int, camera_ids: set[int]) -> dict[int, str]:
    """Rule 2: the cameras' splits, kept if decided, else decided now (in id order): an empty split first
    (train, test, val), then the split furthest below its share of the project's cameras."""
    decided = dict(CameraSplit.objects.filter(camera_id__in=camera_ids).values_list("camera_id", "split"))
    new = sorted(camera_ids - set(decided))
    if new:
        counts = Counter(CameraSplit.objects.filter(camera__site__project_id=project_id)
                         .values_list("split", flat=True))
        for camera_id in new:
            empty = next((s for s in FILL_ORDER if counts[s] == 0), None)
            total = sum(counts.values()) + 1
            split = empty or max(SPLIT_SHARES, key=lambda ss: share_deficit(ss, counts, total))[0]
            counts[split] += 1
            decided[camera_id] = split
        CameraSplit.objects.bulk_create([CameraSplit(camera_id=c, split=decided[c]) for c in new],
                                        ignore_conflicts=True)
        # A concurrent freeze may have decided one first: its decision stands.
        decided.update(dict(CameraSplit.objects.filter(camera_id__in=new).values_list("camera_id", "split")))
    return decided


def whole_camera_split(project_id: int) -> bool:
    """Rule 2's condition: enough decided cameras in the project, and every split has one."""
    counts = Counter(CameraSplit.objects.filter(camera__site__project_id=project_id)
                     .values_list("split", flat=True))
    return sum(counts.values()) >= MIN_CAMERAS_FOR_CAMERA_SPLIT and all(counts[s] for s, _ in SPLIT_SHARES)


def assign_splits(*, project_id: int, frames: list[FrameRef],
                  previous: DatasetVersion | None) -> tuple[dict[int, str], str]:
    """Each frame's split by the module's rule, and which rule new frames followed (`camera` or `frame`)."""
    kept = (dict(DatasetEntry.objects.filter(dataset_version=previous).values_list("asset_id", "split"))
            if previous is not None else {})
    cameras = camera_splits(project_id, {f.camera_id for f in frames if f.camera_id is not None})
    by_camera = whole_camera_split(project_id)
    splits: dict[int, str] = {}
    for frame in frames:
        if frame.asset_id in kept:
            splits[frame.asset_id] = kept[frame.asset_id]
        elif by_camera and frame.camera_id is not None:
            splits[frame.asset_id] = cameras[frame.camera_id]
        else:
            splits[frame.asset_id] = frame_split(frame.sha256)
    if len(frames) >= 2 and Split.TEST not in splits.values():
        # Rule 4: the frame nearest the test share; new frames first, then val frames (never trained on).
        new = [f for f in frames if f.asset_id not in kept]
        val = [f for f in frames if f.asset_id in kept and kept[f.asset_id] == Split.VAL]
        candidates = new or val
        if candidates:
            moved = max(candidates, key=lambda f: (frame_bucket(f.sha256), f.sha256))
            splits[moved.asset_id] = Split.TEST
    return splits, "camera" if by_camera else "frame"
