"""Server pre-labels and disagreement routing (DESIGN.md, "Pre-labeler" and "Routing policy").

For a review item with a frame, the project's champion runs on the server (in the watchdog'd inference
process); its boxes are stored as a `server` Prediction, and when they disagree with the field model's
boxes — unmatched boxes at IoU 0.5, a low mean IoU of the matches, a different count — a pending item's
priority rises and its reason becomes `model_disagreement`, with the parts in `score_parts` for the editor.
A failed inference is recorded with its reason; a model that fails repeatedly is taken out of service.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from activelearning import jobs
from activelearning.registry.inference import InferenceFailed, InferenceRequest, worker
from activelearning.registry.models import (
    ModelStatus,
    ModelVersion,
    PrelabelRun,
    PrelabelStatus,
)
from annotations import audit, frame_cache, metrics
from annotations.geometry import match_boxes
from annotations.models import Asset, AssetKind, Prediction, PredictionSource
from reviewer import realtime
from reviewer.models import ItemStatus, Reason, ReviewItem

# A disagreement score at or over this raises the item (0: identical, 1: nothing in common); half the boxes
# unmatched is where the two models clearly see different scenes.
DISAGREEMENT_THRESHOLD = 0.5
MATCH_IOU = 0.5


@dataclass(frozen=True)
class Disagreement:
    score: float
    matched: int
    field_only: int
    server_only: int
    mean_iou: float | None
    count_delta: int

    def as_parts(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "matched": self.matched, "field_only": self.field_only,
                "server_only": self.server_only, "mean_iou": None if self.mean_iou is None else round(self.mean_iou, 4),
                "count_delta": self.count_delta}


def disagreement(field: list[dict[str, Any]], server: list[dict[str, Any]]) -> Disagreement:
    """How much two models' boxes on the same frame differ, in [0, 1]: the share of boxes either model has alone
    (matched one-to-one by IoU ≥ 0.5, same label), plus how loosely the matched ones overlap."""
    matched_pairs: list[tuple[int, int, float]] = []
    for label in {d["label"] for d in field} | {d["label"] for d in server}:
        f = [d["box"] for d in field if d["label"] == label]
        s = [d["box"] for d in server if d["label"] == label]
        matched_pairs += match_boxes(f, s, iou_threshold=MATCH_IOU)
    matched = len(matched_pairs)
    field_only, server_only = len(field) - matched, len(server) - matched
    total = len(field) + len(server)
    mean_iou = sum(iou for _, _, iou in matched_pairs) / matched if matched else None
    unmatched_share = (field_only + server_only) / total if total else 0.0
    looseness = (1 - mean_iou) * matched * 2 / total if mean_iou is not None and total else 0.0
    return Disagreement(score=min(1.0, unmatched_share + looseness), matched=matched, field_only=field_only,
                        server_only=server_only, mean_iou=mean_iou, count_delta=len(server) - len(field))


class StorageUnavailable(Exception):
    """The media store did not answer (a restart, a network cut): the job is retried later, nothing is recorded.
    A failed pre-label is for a frame that cannot be read, never for a store that is briefly away."""


def transient_storage_errors() -> tuple[type[BaseException], ...]:
    """What an object store's client raises when it cannot reach the store: boto3's connection errors are not
    OSError (a file on local storage that cannot be read is, and stays a failure of that frame)."""
    try:
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
    except ImportError:  # no `s3` extra: local storage only
        return (ConnectionError,)
    return (ConnectionError, EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


def local_file(storage_name: str) -> Path:
    """A local path for a stored file: the file itself on local storage, else a copy cached under var/."""
    try:
        return Path(default_storage.path(storage_name))
    except NotImplementedError:  # object storage
        cached = Path(settings.VAR_DIR) / "model-cache" / Path(storage_name).name
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            # A part file of its own: two workers on one host may fetch the same model at once.
            partial = cached.with_suffix(f"{cached.suffix}.{uuid.uuid4().hex}.part")
            with default_storage.open(storage_name, "rb") as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            partial.replace(cached)
        return cached


def local_model_path(model: ModelVersion) -> Path:
    """A local file of the model for the inference process (content-addressed, so a cached copy is safe)."""
    return local_file(str(model.file.name))


def frame_bytes(asset: Asset, frame_index: int | None) -> bytes:
    """The encoded frame the model should see: the still itself, or frame n of a clip (sequential decode)."""
    if asset.kind == AssetKind.CLIP:
        frame_cache.ensure_frames(asset)
        name = frame_cache.frame_storage_name(asset.sha256, frame_index or 0)
    else:
        name = str(asset.file.name)
    with default_storage.open(name, "rb") as f:
        return f.read()  # type: ignore[no-any-return]


def request_prelabels(*, project_id: int, item_ids: list[int]) -> None:
    """Call inside the transaction that created the items: the job is sent after it commits. Nothing is sent
    when the project has no champion in service (the job would skip every item: one indexed probe here saves
    a job, and in the embedded mode the items' reload, on every ingest batch)."""
    if item_ids and serving_model(project_id) is not None:
        jobs.kick("registry.prelabel_items", item_ids=list(item_ids))


def serving_model(project_id: int) -> ModelVersion | None:
    """The project's champion, unless it is out of service."""
    return ModelVersion.objects.filter(project_id=project_id, status=ModelStatus.CHAMPION,
                                       out_of_service=False).first()


def prelabel_items(*, item_ids: list[int]) -> dict[str, int]:
    """Pre-label each item with its project's champion; how many were done, failed or skipped."""
    tally = {"done": 0, "failed": 0, "skipped": 0}
    items = ReviewItem.objects.filter(pk__in=item_ids).select_related("asset", "prediction").order_by("pk")
    champions: dict[int, ModelVersion | None] = {}
    for item in items:
        if item.project_id not in champions:
            champions[item.project_id] = serving_model(item.project_id)
        model = champions[item.project_id]
        if model is None or item.asset is None or model.out_of_service:
            tally["skipped"] += 1
            continue
        run = prelabel_item(item=item, model=model)
        tally[run.status if run is not None else "skipped"] += 1
    return tally


def prelabel_item(*, item: ReviewItem, model: ModelVersion, frame_index: int | None = None) -> PrelabelRun | None:
    """Run `model` on the item's frame once (None if it already ran); store the boxes or the failure.

    With `frame_index` (a clip item), run it on that frame of the clip instead, on demand from the clip
    reviewer: once per frame, and without rerouting the item (only the item's own frame decides its route).
    """
    if PrelabelRun.objects.filter(review_item=item, model_version=model, frame_index=frame_index).exists():
        return None
    asset = item.asset
    assert asset is not None
    if frame_index is None:
        on_frame = item.prediction.frame_index if item.prediction is not None else None
    else:
        on_frame = frame_index
    with metrics.timed(metrics.PRELABEL_SECONDS, result="failed") as labels:
        try:
            try:
                model_path, image = str(local_model_path(model)), frame_bytes(asset, on_frame)
            except transient_storage_errors() as exc:
                raise StorageUnavailable(str(exc)) from exc
            request = InferenceRequest(
                model_path=model_path, model_sha256=model.sha256, class_names=list(model.classes),
                imgsz=model.input_width, image=image,
                intra_op_threads=settings.LOUPE_PRELABEL_THREADS, conf_threshold=model.conf_threshold)
            boxes, times = worker().infer(request, timeout=settings.LOUPE_PRELABEL_TIMEOUT_SECONDS)
        except InferenceFailed as exc:
            return _record_failure(item=item, model=model, frame_index=frame_index,
                                   reason=f"{exc.kind}: {exc.reason}")
        except (OSError, frame_cache.frames.FramesUnreadable) as exc:
            return _record_failure(item=item, model=model, frame_index=frame_index, reason=f"unreadable: {exc}")
        run = _record_success(item=item, model=model, boxes=boxes, times=times, on_frame=on_frame,
                              frame_index=frame_index)
        labels["result"] = "done"
        return run


def is_dispute(item: ReviewItem) -> bool:
    """Whether the item settles a dispute (a `dispute` event, or a device that gave `disputed` as its reason)."""
    prediction = item.prediction
    return item.reason == Reason.DISPUTED or (
        prediction is not None and (prediction.event_type == "dispute" or prediction.reason == Reason.DISPUTED))


@transaction.atomic
def _record_success(*, item: ReviewItem, model: ModelVersion, boxes: list[dict[str, Any]],
                    times: dict[str, float], on_frame: int | None, frame_index: int | None) -> PrelabelRun:
    now = timezone.now()
    field = item.prediction
    prediction = Prediction.objects.create(
        project_id=item.project_id, camera_id=item.camera_id, asset=item.asset, source=PredictionSource.SERVER,
        event_type="prediction", payload_hash="", captured_at=field.captured_at if field else now, received_at=now,
        model_name=model.name, model_version=str(model.version), model_sha256=model.sha256,
        frame_index=on_frame, detections=boxes, detection_count=len(boxes))
    run, created = PrelabelRun.objects.get_or_create(
        review_item=item, model_version=model, frame_index=frame_index,
        defaults={"status": PrelabelStatus.DONE, "prediction": prediction,
                  "timings_ms": {k: round(v, 2) for k, v in times.items()}})
    if not created:  # a concurrent delivery of the same task stored it first
        prediction.delete()
        return run
    ModelVersion.objects.filter(pk=model.pk).update(consecutive_failures=0)
    if field is not None and frame_index is None:
        _route_disagreement(item=item, field_boxes=field.detections, server_boxes=boxes, model=model)
    return run


def _route_disagreement(*, item: ReviewItem, field_boxes: list[dict[str, Any]], server_boxes: list[dict[str, Any]],
                        model: ModelVersion) -> None:
    found = disagreement(field_boxes, server_boxes)
    parts = {**item.score_parts, "model_disagreement": found.as_parts() | {"model": model.pk}}
    # A dispute stays queued as `disputed`: that is the work the operator's "disputed" filter looks for, and
    # a dispute comes with no boxes of its own, so every server box would "disagree" with it anyway.
    raise_it = found.score >= DISAGREEMENT_THRESHOLD and not is_dispute(item)
    fields: dict[str, Any] = {"score_parts": parts}
    if raise_it:
        parts["field_reason"] = item.reason
        fields |= {"reason": Reason.MODEL_DISAGREEMENT,
                   "priority": max(item.priority, min(1.0, 0.5 + found.score / 2))}
    # Only a pending item changes: one being worked on keeps what its annotator sees.
    updated = ReviewItem.objects.filter(pk=item.pk, status=ItemStatus.PENDING).update(**fields,
                                                                                    updated_at=timezone.now())
    if updated and raise_it:
        audit.record(action="item.rerouted", obj_type="review_item", obj_id=item.pk, project_id=item.project_id,
                     actor=None, before={"reason": item.reason, "priority": item.priority},
                     after={"reason": fields["reason"], "priority": fields["priority"],
                            "disagreement": found.as_parts()})
        realtime.publish_queue_stats(project_id=item.project_id)


def _record_failure(*, item: ReviewItem, model: ModelVersion, frame_index: int | None, reason: str) -> PrelabelRun:
    with transaction.atomic():
        run, _ = PrelabelRun.objects.get_or_create(review_item=item, model_version=model, frame_index=frame_index,
                                                   defaults={"status": PrelabelStatus.FAILED, "error": reason[:2000]})
        ModelVersion.objects.filter(pk=model.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        model.refresh_from_db(fields=["consecutive_failures", "out_of_service"])
        taken_out = (not model.out_of_service
                     and model.consecutive_failures >= settings.LOUPE_PRELABEL_MAX_FAILURES)
        if taken_out:
            model.out_of_service = True
            model.out_of_service_reason = f"{model.consecutive_failures} failures in a row; last: {reason[:500]}"
            model.save(update_fields=["out_of_service", "out_of_service_reason"])
            audit.record(action="model.out_of_service", obj_type="model_version", obj_id=model.pk,
                         project_id=model.project_id, actor=None, after={"reason": model.out_of_service_reason})
        realtime.publish(project_id=model.project_id, message={
            "type": "model.alert", "model": model.pk, "reason": reason[:500], "out_of_service": model.out_of_service})
    return run
