"""Shadow evaluation: a model and the champion on the project's held-out frames, scored against the accepted
annotations by `metrics.evaluate_detections`, overall and per slice (site, camera, lighting, crowd size).

The held-out frames are a dataset version's test split: by default the project's latest version that has
one, the split the gate uses and that no version ever trains on (frames never change split, see
`activelearning.datasets.splits`). A project with no such version (a model uploaded before any freeze, or only versions
frozen before every version had a test split) is evaluated on the frames the dataset rule would put in test by
their hash (`split_of`, the same rule `activelearning.datasets.splits` freezes with), minus every frame any
version put in train or val, so nothing trained on is scored.
The report says which frames were used (`frames.source`).

Both models are scored on the same frames and each at its own operating point (`ModelVersion.conf_threshold`,
stored in the report beside its numbers): identical weights at the same threshold give identical numbers, and
a new upload takes the champion's threshold unless one is given (`registry.operating_point`).

Too few frames: below `MIN_COMPARISON_FRAMES` a difference is mostly noise (one frame's miscount moves count MAE
by 1/n of it, a single box moves precision by several points), so the report flags the comparison as not
significant and the page shows the numbers without calling either model better or worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from activelearning.datasets.models import DatasetEntry, DatasetVersion, Split
from activelearning.datasets.splits import frame_split
from activelearning.metrics import crowd_bucket, evaluate_detections
from activelearning.registry.inference import InferenceFailed, InferenceRequest, worker
from activelearning.registry.models import (
    EvaluationStatus,
    ModelEvaluation,
    ModelStatus,
    ModelVersion,
)
from activelearning.registry.prelabels import frame_bytes, local_model_path
from annotations import audit
from annotations.errors import InvalidInput
from annotations.models import Annotation, Verdict
from reviewer.models import ItemStatus, ReviewItem

MIN_COMPARISON_FRAMES = 30
EVAL_CONF_THRESHOLD = 0.001  # mAP wants the whole ranked list, as COCO evaluates
MAX_EVAL_IMAGES = 2000
EVAL_TIMEOUT_SECONDS = 60.0


def split_of(sha256: str) -> str:
    """`heldout` for the frames a dataset version would put in test by their hash (one rule for both: the
    datasets' `frame_split`), `train` for the rest; stable forever."""
    return "heldout" if frame_split(sha256) == Split.TEST else "train"


def lighting_bucket(brightness: float | None) -> str:
    """Mean luma in [0, 1] → the lighting slice the editor and reports use."""
    if brightness is None:
        return "unknown"
    if brightness < 0.15:
        return "night"
    if brightness < 0.35:
        return "dim"
    if brightness < 0.65:
        return "normal"
    return "bright"


def frame_slices(*, site: str | None, camera: str | None, brightness: float | None, people: int) -> dict[str, str]:
    """The slices a frame is reported under (dataset statistics and every evaluation use the same keys)."""
    return {"site": site or "none", "camera": camera or "none", "lighting": lighting_bucket(brightness),
            "crowd": crowd_bucket(people)}


@dataclass(frozen=True)
class HeldOutFrame:
    item: ReviewItem
    frame_index: int | None
    truth: list[dict[str, Any]]
    slices: dict[str, str]


def held_out_frames(project_id: int, limit: int = MAX_EVAL_IMAGES) -> list[HeldOutFrame]:
    """Accepted, usable items of the held-out split, each with its accepted boxes on the evaluated frame."""
    latest = Annotation.objects.filter(review_item_id=OuterRef("pk")).order_by("-version")
    items = (ReviewItem.objects.filter(project_id=project_id, status=ItemStatus.ACCEPTED, asset__isnull=False)
             .select_related("asset", "prediction", "site", "camera")
             .annotate(truth=Subquery(latest.values("boxes")[:1]), verdict=Subquery(latest.values("verdict")[:1]))
             .order_by("pk"))
    trained = set(DatasetEntry.objects.filter(dataset_version__project_id=project_id)
                  .exclude(split=Split.TEST).values_list("asset_id", flat=True))
    frames: list[HeldOutFrame] = []
    for item in items.iterator(chunk_size=500):
        if (item.verdict == Verdict.UNUSABLE or split_of(item.asset.sha256) != "heldout"  # type: ignore[attr-defined, union-attr]
                or item.asset_id in trained):
            continue
        frame = item.prediction.frame_index if item.prediction is not None else None
        truth = [{"label": b["label"], "box": b["box"]} for b in item.truth or []  # type: ignore[attr-defined]
                 if (b.get("frame_index") or 0) == (frame or 0)]
        frames.append(HeldOutFrame(item=item, frame_index=frame, truth=truth, slices=frame_slices(
            site=item.site.name if item.site else None, camera=item.camera.name if item.camera else None,
            brightness=item.asset.brightness, people=len(truth))))  # type: ignore[union-attr]
        if len(frames) >= limit:
            break
    return frames


def dataset_frames(version_id: int, split: str = "test", limit: int = MAX_EVAL_IMAGES) -> list[HeldOutFrame]:
    """A dataset version's frames of one split, with the accepted boxes the version froze."""
    entries = (DatasetEntry.objects.filter(dataset_version_id=version_id, split=split)
               .select_related("review_item__asset", "review_item__prediction", "annotation")
               .order_by("asset_id")[:limit])
    frames = []
    for entry in entries:
        item = entry.review_item
        frame = item.prediction.frame_index if item.prediction is not None else None
        truth = [{"label": b["label"], "box": b["box"]} for b in entry.annotation.boxes or []
                 if (b.get("frame_index") or 0) == (frame or 0)]
        frames.append(HeldOutFrame(item=item, frame_index=frame, truth=truth, slices=entry.slices))
    return frames


def _predict(model: ModelVersion, frames: list[HeldOutFrame]) -> list[list[dict[str, Any]]]:
    path = str(local_model_path(model))
    out = []
    for frame in frames:
        assert frame.item.asset is not None
        request = InferenceRequest(model_path=path, model_sha256=model.sha256, class_names=list(model.classes),
                                   imgsz=model.input_width, image=frame_bytes(frame.item.asset, frame.frame_index),
                                   conf_threshold=EVAL_CONF_THRESHOLD)
        boxes, _ = worker().infer(request, timeout=EVAL_TIMEOUT_SECONDS)
        out.append(boxes)
    return out


def latest_test_split(project_id: int) -> int | None:
    """The id of the project's newest dataset version with a test split, if any."""
    return (DatasetVersion.objects.filter(project_id=project_id, entries__split=Split.TEST)
            .order_by("-number").values_list("pk", flat=True).first())


def frames_summary(evaluation: ModelEvaluation, count: int) -> dict[str, Any]:
    """Which frames an evaluation used, and whether that is enough to call a difference (MIN_COMPARISON_FRAMES)."""
    if evaluation.dataset_version_id is not None:
        source = "dataset_test"
    elif DatasetVersion.objects.filter(project_id=evaluation.model_version.project_id).exists():
        source = "held_out_no_test_split"  # versions exist, none with a test split (frozen before the rule)
    else:
        source = "held_out_no_dataset"
    return {"source": source, "count": count, "min_for_comparison": MIN_COMPARISON_FRAMES,
            "too_few": count < MIN_COMPARISON_FRAMES}


def start_evaluation(*, model: ModelVersion, user: User | None, dataset_version_id: int | None = None) -> ModelEvaluation:
    """Record an evaluation of `model` (and the champion) on `dataset_version_id`'s test split, by default the
    latest version's; run it with `run_evaluation`."""
    if dataset_version_id is None:
        dataset_version_id = latest_test_split(model.project_id)
    elif not DatasetVersion.objects.filter(pk=dataset_version_id, project_id=model.project_id).exists():
        raise InvalidInput("No dataset version with this id in the model's project.", code="unknown_dataset",
                           details={"dataset_version": dataset_version_id})
    baseline = ModelVersion.objects.filter(project_id=model.project_id, status=ModelStatus.CHAMPION).first()
    evaluation = ModelEvaluation.objects.create(model_version=model, requested_by=user,
                                                baseline=baseline if baseline != model else None,
                                                dataset_version_id=dataset_version_id)
    audit.record(action="model.evaluation_requested", obj_type="model_version", obj_id=model.pk,
                 project_id=model.project_id, actor=user, after={"evaluation": evaluation.pk})
    return evaluation


def run_evaluation(*, evaluation_id: int) -> ModelEvaluation:
    """Score the model and its baseline on the same held-out frames; store both reports."""
    evaluation = ModelEvaluation.objects.select_related("model_version", "baseline").get(pk=evaluation_id)
    if evaluation.status != EvaluationStatus.RUNNING:
        return evaluation  # a re-delivered task
    model = evaluation.model_version
    frames = (dataset_frames(evaluation.dataset_version_id) if evaluation.dataset_version_id is not None
              else held_out_frames(model.project_id))
    truths = [f.truth for f in frames]
    slices = [f.slices for f in frames]

    def score(subject: ModelVersion) -> dict[str, Any]:
        # mAP ranks every box; precision, recall and counts are at each model's own operating point.
        scored = evaluate_detections(_predict(subject, frames), truths, score_threshold=subject.conf_threshold,
                                     slices=slices).as_dict()
        return {**scored, "model": subject.pk, "display_name": subject.display_name,
                "score_threshold": subject.conf_threshold,
                "threshold_source": (subject.metadata.get("operating_point") or {}).get("source", "recorded")}

    try:
        report: dict[str, Any] = {"candidate": score(model), "frames": frames_summary(evaluation, len(frames))}
        if evaluation.baseline is not None:
            report["champion"] = score(evaluation.baseline)
    except (InferenceFailed, OSError) as exc:
        evaluation.status, evaluation.error = EvaluationStatus.FAILED, str(exc)[:2000]
    else:
        evaluation.status, evaluation.report = EvaluationStatus.DONE, report
    evaluation.images, evaluation.finished_at = len(frames), timezone.now()
    evaluation.save(update_fields=["status", "error", "report", "images", "finished_at"])
    return evaluation
