"""Imports of labels made elsewhere as pre-labels: a Label Studio task list or JSON-MIN (or CSV) export, a COCO
detection file, and each of Loupe's own exports as written (the zip or tar of COCO, YOLO, VOC or Label Studio).

Each labelled image that is already an asset the project holds (`AssetHolding`) becomes a pending ReviewItem whose
pre-label is a `server` Prediction from model `import:<format>`: people review imported labels like any model's,
nothing is accepted on the importer's word. Images are matched by sha256 only (a sha256 in the file name or URL path,
Label Studio's `data.sha256`, COCO's `file_name` = sha256 + extension); no URL is ever fetched. Which format the
body is, and the reading of those that are not one JSON document, is activelearning/datasets/readers.py.

The whole file is validated before anything is written, and written in one transaction: a bad task is
reported with its index and field, and nothing of the file is stored.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from activelearning.datasets import readers
from activelearning.datasets.import_archives import ImportRejected
from activelearning.datasets.readers import SHA as _SHA
from activelearning.datasets.readers import frame_in, parse_json, sha_in_reference
from annotations import audit
from annotations.errors import LoupeError, TooLarge
from annotations.geometry import clip_to_image
from annotations.models import Annotation, Asset, Prediction, PredictionSource, Project
from reviewer.models import Reason, ReviewItem

__all__ = ["ImportRejected", "boxes_from_ls_result", "import_labels", "parse_json", "sha_in_reference"]
IMPORT_PRIORITY = 0.5
_PRELABEL_ID = re.compile(r"pre-([0-9]{1,6})")


@dataclass
class ImportedImage:
    asset: Asset
    boxes: list[dict[str, Any]]


def import_labels(*, project: Project, user: User, body: bytes, dry_run: bool = False) -> dict[str, Any]:
    """Validate a file of labels (any format readers.py detects) and queue its images for review with their labels
    as pre-labels. Images whose labels Loupe already holds are counted as `already_present` and not queued again,
    so importing the same file twice is a no-op. With `dry_run` the report is the same and nothing is written."""
    if len(body) > settings.LOUPE_MAX_IMPORT_BYTES:
        raise TooLarge("The import is too large.", details={"max_bytes": settings.LOUPE_MAX_IMPORT_BYTES})
    read = readers.read(body)
    fmt = read.format
    if read.documents:
        parse: Callable[[Project, Any], list[ImportedImage]] = _coco if fmt == "coco" else _label_studio
        images = [image for file, document in read.documents for image in _in_file(file, parse, project, document)]
    else:
        images = _found(project, read.images)
    _limit(len(images), "images")
    new, present = _split_known(project, _clips_merged(images))
    if dry_run:
        return _summary(fmt, new, present, item_ids=[], dry_run=True)
    return _store(project=project, user=user, fmt=fmt, images=new, present=present)


def _box_key(boxes: list[dict[str, Any]]) -> tuple[tuple[Any, ...], ...]:
    """What makes two label sets the same: each box's label, frame and position to 0.01 px, in any order (a
    score is a model's confidence, not part of the label)."""
    return tuple(sorted((str(b["label"]), b.get("frame_index") or 0, *(round(float(v), 2) for v in b["box"]))
                        for b in boxes))


def _split_known(project: Project, images: list[ImportedImage]) -> tuple[list[ImportedImage], int]:
    """The images to queue, and how many Loupe already holds with these very boxes: an earlier import of them
    (whatever became of its item), the asset's newest annotation, or the same image earlier in this file."""
    asset_ids = {image.asset.pk for image in images}
    known: dict[int, set[tuple[Any, ...]]] = defaultdict(set)
    imported = Prediction.objects.filter(project=project, asset_id__in=asset_ids, model_name__startswith="import:")
    for asset_id, detections in imported.values_list("asset_id", "detections"):
        known[asset_id].add(_box_key(detections or []))
    newest: set[int] = set()
    for asset_id, boxes in (Annotation.objects.filter(project=project, asset_id__in=asset_ids)
                            .order_by("asset_id", "-version").values_list("asset_id", "boxes")):
        if asset_id not in newest:  # the first row per asset is its newest version
            newest.add(asset_id)
            known[asset_id].add(_box_key(boxes or []))
    new, present = [], 0
    for image in images:
        key = _box_key(image.boxes)
        if key in known[image.asset.pk]:
            present += 1
        else:
            known[image.asset.pk].add(key)
            new.append(image)
    return new, present


def _summary(fmt: str, new: list[ImportedImage], present: int, *, item_ids: list[int],
             dry_run: bool) -> dict[str, Any]:
    return {"format": fmt, "items": len(new), "boxes": sum(len(i.boxes) for i in new), "already_present": present,
            "dry_run": dry_run, "item_ids": item_ids}


def _in_file(file: str, parse: Callable[[Project, Any], list[ImportedImage]], project: Project,
             document: Any) -> list[ImportedImage]:
    """A document's images; a refusal names the archive member it is in."""
    try:
        return parse(project, document)
    except LoupeError as exc:
        if file:
            exc.details = {"file": file, **exc.details}
        raise


def _found(project: Project, found: list[readers.FoundImage]) -> list[ImportedImage]:
    """The images a reader found, matched to the project's assets, their boxes in pixels by the one box rule."""
    _limit(len(found), "images")
    assets = _project_assets(project, {image.sha256 for image in found})
    images = []
    for image in found:
        asset = assets.get(image.sha256)
        if asset is None:
            raise ImportRejected("The image is not an asset of this project.",
                                 details={**image.where, "sha256": image.sha256})
        if not asset.width or not asset.height:
            raise ImportRejected("The image's size is not known.", details={**image.where, "sha256": image.sha256})
        frame = {"frame_index": image.frame_index} if asset.kind == "clip" and image.frame_index is not None else {}
        boxes = []
        for box in image.boxes:
            if box.label not in project.label_classes:
                raise ImportRejected(f"The label {box.label!r} is not one of the project's classes.", details={
                    **box.label_where, "label": box.label, "allowed": project.label_classes})
            boxes.append({"label": box.label, "box": _fit_box(box.pixels(asset.width, asset.height), asset, box.where),
                          **({"score": box.score} if box.score is not None else {}), **frame})
        _limit_boxes(boxes, image.where)
        images.append(ImportedImage(asset, boxes))
    return images


def _project_assets(project: Project, shas: set[str]) -> dict[str, Asset]:
    """Assets with these hashes that the project holds (its devices uploaded them); the same bytes held only
    by another project are not the project's, so its labels cannot reach them."""
    return {a.sha256: a for a in Asset.objects.filter(holdings__project=project, sha256__in=shas)}


def _limit(count: int, what: str) -> None:
    if count > settings.LOUPE_MAX_IMPORT_TASKS:
        raise TooLarge(f"Too many {what} in one import.", details={"max": settings.LOUPE_MAX_IMPORT_TASKS,
                                                                     "count": count})


def _fit_box(box: list[float], asset: Asset, where: dict[str, Any]) -> list[float]:
    """The box clipped to its image by the rule every other path uses (annotations.geometry); a box with no area
    inside the image is refused, saying where."""
    clipped = clip_to_image(box, asset.width, asset.height)
    if clipped is None:
        raise ImportRejected("A box lies outside its image.", details={
            **where, "box": [round(v, 2) for v in box], "image_size": [asset.width, asset.height]})
    return [round(v, 2) for v in clipped]


def _label_studio(project: Project, tasks: list[Any]) -> list[ImportedImage]:
    _limit(len(tasks), "tasks")
    references: list[str] = []
    for t, task in enumerate(tasks):
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("image"), str):
            raise ImportRejected("A task has no image.", details={"task": t, "field": "data.image"})
        named = data.get("sha256")
        sha = named.lower() if isinstance(named, str) and _SHA.fullmatch(named.lower()) else sha_in_reference(
            data["image"])
        if sha is None:
            raise ImportRejected("The image reference names no sha256.", details={"task": t, "field": "data.image"})
        references.append(sha)
    assets = _project_assets(project, set(references))
    images = []
    for t, (task, sha) in enumerate(zip(tasks, references, strict=True)):
        if sha not in assets:
            raise ImportRejected("The image is not an asset of this project.",
                                 details={"task": t, "field": "data.image", "sha256": sha})
        asset = assets[sha]
        # The latest annotation that was not cancelled counts; without one, the latest prediction.
        annotations = task.get("annotations") if isinstance(task.get("annotations"), list) else []
        live = [i for i, a in enumerate(annotations) if isinstance(a, dict) and not a.get("was_cancelled")]
        predictions = task.get("predictions") if isinstance(task.get("predictions"), list) else []
        if live:
            key, a, chosen = "annotation", live[-1], annotations[live[-1]]
        elif predictions:
            key, a, chosen = "prediction", len(predictions) - 1, predictions[-1]
        else:
            images.append(ImportedImage(asset, []))
            continue
        result = chosen.get("result") if isinstance(chosen, dict) else None
        if not isinstance(result, list):
            raise ImportRejected("Expected a result list.", details={"task": t, key: a, "field": "result"})
        boxes = boxes_from_ls_result(result, asset=asset, labels=project.label_classes, where={"task": t, key: a})
        _limit_boxes(boxes, {"task": t})
        images.append(ImportedImage(asset, _on_frame(boxes, task, asset)))
    return _clips_merged(images)


def boxes_from_ls_result(result: list[Any], *, asset: Asset, labels: list[str], where: dict[str, Any],
                         prelabel_ids: bool = False) -> list[dict[str, Any]]:
    """Label Studio `rectanglelabels` results (percent of the image) as boxes in pixels, clipped by the one box
    rule; other result kinds carry no boxes. ImportRejected names the result, field and label of a bad one. With
    `prelabel_ids`, a result whose id is `pre-<i>` started from pre-label i (a linked Label Studio's predictions
    carry those ids), kept as the box's `prelabel_index`."""
    boxes = []
    for r, item in enumerate(result):
        if not isinstance(item, dict) or item.get("type") != "rectanglelabels":
            continue  # other result kinds (choices, text) carry no boxes
        here = {**where, "result": r}
        value = item.get("value")
        if not isinstance(value, dict):
            raise ImportRejected("A result has no value.", details={**here, "field": "value"})
        names = value.get("rectanglelabels")
        if not (isinstance(names, list) and len(names) == 1 and isinstance(names[0], str)):
            raise ImportRejected("Expected one label per box.", details={**here, "field": "value.rectanglelabels"})
        if names[0] not in labels:
            raise ImportRejected(f"The label {names[0]!r} is not one of the project's classes.", details={
                **here, "field": "value.rectanglelabels", "label": names[0], "allowed": labels})
        x, y, w, h = (readers.number(value.get(k), {**here, "field": f"value.{k}"}, text=False)
                      for k in ("x", "y", "width", "height"))
        box = [x * asset.width / 100, y * asset.height / 100, w * asset.width / 100, h * asset.height / 100]
        box = _fit_box(box, asset, {**here, "field": "value"})
        score = item.get("score")
        prelabel = _PRELABEL_ID.fullmatch(str(item.get("id", ""))) if prelabel_ids else None
        boxes.append({"label": names[0], "box": box,
                      **({"score": float(score)} if isinstance(score, int | float) else {}),
                      **({"prelabel_index": int(prelabel.group(1))} if prelabel else {})})
    return boxes


def _on_frame(boxes: list[dict[str, Any]], task: dict[str, Any], asset: Asset) -> list[dict[str, Any]]:
    """A task showing one frame of a clip (Loupe's export names it in `meta.frame_index`) labels that frame."""
    meta = task.get("meta")
    frame = meta.get("frame_index") if isinstance(meta, dict) else None
    if asset.kind != "clip" or isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        return boxes
    return [{**box, "frame_index": frame} for box in boxes]


def _clips_merged(images: list[ImportedImage]) -> list[ImportedImage]:
    """One entry per clip with the boxes of all its frames' tasks (one review item per clip, as ingest makes)."""
    merged: list[ImportedImage] = []
    clips: dict[int, ImportedImage] = {}
    for image in images:
        if image.asset.kind != "clip":
            merged.append(image)
        elif image.asset.pk in clips:
            clips[image.asset.pk].boxes.extend(image.boxes)
        else:
            clips[image.asset.pk] = ImportedImage(image.asset, list(image.boxes))
            merged.append(clips[image.asset.pk])
    return merged


def _coco(project: Project, document: dict[str, Any]) -> list[ImportedImage]:
    raw_images, raw_boxes = document["images"], document.get("annotations") or []
    categories = document.get("categories") or []
    if not isinstance(raw_boxes, list) or not isinstance(categories, list):
        raise ImportRejected("Expected lists of annotations and categories.", details={"field": "annotations"})
    _limit(len(raw_images), "images")
    labels = set(project.label_classes)
    category_names: dict[Any, str] = {}
    for c, category in enumerate(categories):
        if not isinstance(category, dict) or "id" not in category or not isinstance(category.get("name"), str):
            raise ImportRejected("A category needs an id and a name.", details={"category": c, "field": "name"})
        category_names[_coco_id(category["id"], {"category": c, "field": "id"})] = category["name"]
    shas: dict[Any, str] = {}
    frames: dict[Any, int | None] = {}
    for i, image in enumerate(raw_images):
        name = image.get("file_name") if isinstance(image, dict) else None
        if not isinstance(name, str) or "id" not in image:
            raise ImportRejected("An image needs an id and a file_name.", details={"image": i, "field": "file_name"})
        # Loupe names an image `<sha256>.<ext>`; Label Studio's own COCO export names an upload
        # `../media/upload/7/8864c67b-<sha256>.jpg`: a sha256 anywhere in the name's last part counts.
        named, stem = str(image.get("sha256") or "").lower(), PurePosixPath(name).stem.lower()
        sha = next((s for s in (named, stem) if _SHA.fullmatch(s)), None) or sha_in_reference(name)
        if sha is None:
            raise ImportRejected("The file name names no sha256.", details={"image": i, "field": "file_name"})
        shas[_coco_id(image["id"], {"image": i, "field": "id"})] = sha
        # A clip's frame: Loupe's export says so in `frame_index` and names the image `<sha256>_f000012.jpg`.
        frame = image.get("frame_index")
        frames[image["id"]] = frame if isinstance(frame, int) and not isinstance(frame, bool) and frame >= 0 \
            else frame_in(name)
    assets = _project_assets(project, set(shas.values()))
    for i, image in enumerate(raw_images):
        if shas[image["id"]] not in assets:
            raise ImportRejected("The image is not an asset of this project.",
                                 details={"image": i, "field": "file_name", "sha256": shas[image["id"]]})
    per_image: dict[Any, list[dict[str, Any]]] = {image_id: [] for image_id in shas}
    for n, annotation in enumerate(raw_boxes):
        where = {"annotation": n}
        if not isinstance(annotation, dict):
            raise ImportRejected("Expected an annotation object.", details={**where, "field": "image_id"})
        if _coco_id(annotation.get("image_id"), {**where, "field": "image_id"}) not in shas:
            raise ImportRejected("The annotation names an unknown image.", details={**where, "field": "image_id"})
        name = category_names.get(_coco_id(annotation.get("category_id"), {**where, "field": "category_id"}))
        if name is None or name not in labels:
            raise ImportRejected("The category is not one of the project's classes.", details={
                **where, "field": "category_id", "label": name, "allowed": project.label_classes})
        bbox = annotation.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise ImportRejected("Expected bbox [x, y, w, h].", details={**where, "field": "bbox"})
        box = [readers.number(v, {**where, "field": "bbox"}, text=False) for v in bbox]
        box = _fit_box(box, assets[shas[annotation["image_id"]]], {**where, "field": "bbox"})
        score = annotation.get("score")
        per_image[annotation["image_id"]].append(
            {"label": name, "box": box, **({"score": float(score)} if isinstance(score, int | float) else {})})
    images = []
    for image_id, boxes in per_image.items():
        _limit_boxes(boxes, {"image_id": image_id})
        asset, frame = assets[shas[image_id]], frames[image_id]
        on_frame = [{**box, "frame_index": frame} for box in boxes] if asset.kind == "clip" and frame is not None \
            else boxes
        images.append(ImportedImage(asset, on_frame))
    return _clips_merged(images)


def _coco_id(value: Any, where: dict[str, Any]) -> int | str:
    """A COCO id is an integer (a string is tolerated); a list or object cannot key anything, and an integer
    past 64 bits arrives from the JSON parser as a float."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ImportRejected("Expected an integer id.", details=where)
    return value


def _limit_boxes(boxes: list[dict[str, Any]], where: dict[str, Any]) -> None:
    if len(boxes) > settings.LOUPE_MAX_DETECTIONS:
        raise TooLarge("Too many boxes on one image.", details={**where, "max": settings.LOUPE_MAX_DETECTIONS})


@transaction.atomic
def _store(*, project: Project, user: User, fmt: str, images: list[ImportedImage], present: int) -> dict[str, Any]:
    """Everything or nothing: one transaction for all predictions and items."""
    now = timezone.now()
    model = f"import:{fmt}"
    # Each image's site is that of its latest camera prediction (a subquery: SQLite has no DISTINCT ON).
    latest_site = (Prediction.objects.filter(project=project, asset=OuterRef("pk"), camera__isnull=False)
                   .order_by("-id").values("camera__site_id")[:1])
    sites = dict(Asset.objects.filter(pk__in=[i.asset.pk for i in images])
                 .annotate(site_id=Subquery(latest_site)).values_list("pk", "site_id"))
    predictions = Prediction.objects.bulk_create([
        Prediction(project=project, asset=image.asset, source=PredictionSource.SERVER, event_type="prediction",
                   payload_hash=hashlib.sha256(orjson.dumps(image.boxes, option=orjson.OPT_SORT_KEYS)).hexdigest(),
                   captured_at=now, received_at=now, model_name=model, detections=image.boxes,
                   detection_count=len(image.boxes), reason="import")
        for image in images])
    items = ReviewItem.objects.bulk_create([
        ReviewItem(project=project, asset=image.asset, prediction=prediction, site_id=sites.get(image.asset.pk),
                   reason=Reason.POLICY_RULE, priority=IMPORT_PRIORITY, score_parts={"import": fmt})
        for image, prediction in zip(images, predictions, strict=True)])
    summary = _summary(fmt, images, present, item_ids=[i.pk for i in items], dry_run=False)
    audit.record(action="labels.imported", obj_type="project", obj_id=project.pk, project_id=project.pk,
                 actor=user, after={k: v for k, v in summary.items() if k != "item_ids"})
    return summary
