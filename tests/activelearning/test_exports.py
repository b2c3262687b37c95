"""Exports of a frozen dataset version: each format's content, split membership as in the DatasetEntry rows,
byte-identical re-exports (also after an interrupted attempt), Range downloads, who may ask."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from label_studio_sdk.converter import Converter

from activelearning.datasets import archives
from activelearning.datasets.exports import run_export
from activelearning.datasets.models import DatasetEntry, DatasetVersion, ExportJob
from activelearning.training.threshold import freeze_dataset
from annotations.models import Annotation, Asset, AssetHolding, Camera, Prediction, Site
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import add_member, as_user, jpeg_bytes, make_project, mp4_bytes

pytestmark = pytest.mark.usefixtures("postgres")

BOXES = [  # (label, box) per still, cycled
    [("person", [10, 20, 30, 40]), ("bag", [100, 50, 20, 20])],
    [("person", [0, 0, 320, 240])],
    [],
    [("person", [5.5, 6.5, 50.25, 60.75]), ("person", [200, 100, 40, 80]), ("bag", [300, 200, 20, 40])],
]


def store_asset(seed: int, *, kind: str = "frame") -> Asset:
    body = jpeg_bytes(seed=seed) if kind == "frame" else mp4_bytes()
    sha = hashlib.sha256(body).hexdigest()
    name = default_storage.save(f"assets/{sha}.{'jpg' if kind == 'frame' else 'mp4'}", ContentFile(body))
    return Asset.objects.create(sha256=sha, kind=kind, content_type="image/jpeg" if kind == "frame" else "video/mp4",
                                file=name, size_bytes=len(body), width=320 if kind == "frame" else 160,
                                height=240 if kind == "frame" else 120, fps=10.0 if kind == "clip" else None,
                                frame_count=12 if kind == "clip" else None)


def accepted_item(project, asset: Asset, camera: Camera, boxes: list[dict[str, Any]]) -> ReviewItem:
    prediction = Prediction.objects.create(
        project=project, asset=asset, camera=camera, event_type="prediction", payload_hash="x",
        captured_at=timezone.now(), received_at=timezone.now(), model_name="people-det", model_version="3",
        frame_index=0, detections=[{"label": "person", "score": 0.4, "box": [12, 22, 28, 38]}], detection_count=1)
    item = ReviewItem.objects.create(project=project, asset=asset, prediction=prediction, site=camera.site,
                                     camera=camera, reason="low_confidence", priority=0.5,
                                     status=ItemStatus.ACCEPTED)
    Annotation.objects.create(project=project, asset=asset, review_item_id=item.pk, version=1,
                              author=User.objects.get(username="alice"), boxes=boxes, submitted_at=timezone.now())
    return item


@pytest.fixture
def version(db) -> DatasetVersion:
    project = make_project("store-counts", classes=("person", "bag"))
    project.retrain_threshold = 0
    project.save()
    add_member(project, "alice", "annotator")
    add_member(project, "bob", "reviewer")
    add_member(project, "dana", "admin")
    User.objects.create_user("charlie", password="pw-123456")
    site = Site.objects.create(project=project, name="North")
    # Cameras are given splits in id order by their shares (70/15/15): twelve cameras fill all three twice over.
    cameras = [Camera.objects.create(site=site, name=f"cam-{i}") for i in range(12)]
    for i in range(16):
        boxes = [{"label": label, "box": box} for label, box in BOXES[i % len(BOXES)]]
        accepted_item(project, store_asset(i), cameras[i % len(cameras)], boxes)
    clip = store_asset(99, kind="clip")
    accepted_item(project, clip, cameras[0], [{"label": "person", "box": [10, 10, 20, 40], "frame_index": 2},
                                              {"label": "person", "box": [30, 10, 20, 40], "frame_index": 5},
                                              {"label": "bag", "box": [60, 10, 20, 20], "frame_index": 5}])
    with transaction.atomic():
        frozen = freeze_dataset(project_id=project.pk)
    assert set(frozen.stats["per_split"]) == {"train", "val", "test"}
    return frozen


def export(version: DatasetVersion, fmt: str, capture, *, archive: str = "zip", images: bool = True,
           user: str = "bob") -> ExportJob:
    with capture(execute=True):
        response = as_user(user).post(f"/api/v1/datasets/{version.pk}/exports",
                                         {"format": fmt, "archive": archive, "include_images": images},
                                         format="json")
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "done", job.error
    return job


def members(job: ExportJob) -> dict[str, bytes]:
    with default_storage.open(job.file.name, "rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == job.sha256 and len(data) == job.size_bytes
    if job.archive == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers()}  # type: ignore[union-attr]


def expected_splits(version: DatasetVersion) -> dict[str, str]:
    return dict(DatasetEntry.objects.filter(dataset_version=version).values_list("asset__sha256", "split"))


def test_coco_export_loads_in_pycocotools_with_one_file_per_split_matching_the_entries(
        version, django_capture_on_commit_callbacks, tmp_path):
    from pycocotools.coco import COCO

    files = members(export(version, "coco", django_capture_on_commit_callbacks))
    splits = expected_splits(version)
    seen: dict[str, str] = {}
    boxes = 0
    for split in ("train", "val", "test"):
        raw = files[f"annotations/instances_{split}.json"]
        path = tmp_path / f"{split}.json"
        path.write_bytes(raw)
        coco = COCO(str(path))
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["person", "bag"]
        for image in coco.loadImgs(coco.getImgIds()):
            seen[image["sha256"]] = split
            assert f"images/{split}/{image['file_name']}" in files
            boxes += len(coco.getAnnIds(imgIds=[image["id"]]))
        assert list(json.loads(raw)) == sorted(json.loads(raw))  # sorted keys, top level too
    assert seen == splits
    clip_frames = sorted(n for n in files if "_f0000" in n and n.startswith("images/"))
    assert [Path(n).name.split("_")[1] for n in clip_frames] == ["f000002.jpg", "f000005.jpg"]
    assert boxes == version.stats["boxes"]
    first_still = next(n for n in files if n.startswith("images/") and "_f" not in n)
    sha = Path(first_still).stem
    assert files[first_still] == default_storage.open(Asset.objects.get(sha256=sha).file.name).read()


def test_yolo_export_has_normalised_lines_per_image_and_data_yaml_in_project_label_order(
        version, django_capture_on_commit_callbacks):
    files = members(export(version, "yolo", django_capture_on_commit_callbacks))
    data = yaml.safe_load(files["data.yaml"])
    assert data["names"] == {0: "person", 1: "bag"} and data["nc"] == 2 and data["val"] == "images/val"
    splits = expected_splits(version)
    labels = {n: v for n, v in files.items() if n.startswith("labels/")}
    assert {(n.split("/")[1], Path(n).stem.split("_")[0]) for n in labels} == {(s, a) for a, s in splits.items()}
    for name, body in labels.items():
        assert f"images/{name.split('/')[1]}/{Path(name).stem}.jpg" in files
        for line in body.decode().splitlines():
            cls, *coords = line.split()
            assert cls in {"0", "1"} and all(0 <= float(c) <= 1 for c in coords)
    annotation = Annotation.objects.get(asset__sha256=next(a for a in splits if Asset.objects.get(
        sha256=a).kind == "frame" and len(Annotation.objects.get(asset__sha256=a).boxes) == 2))
    body = labels[f"labels/{splits[annotation.asset.sha256]}/{annotation.asset.sha256}.txt"].decode()
    # person [10, 20, 30, 40] and bag [100, 50, 20, 20] on 320×240
    assert body == "0 0.078125 0.166667 0.093750 0.166667\n1 0.343750 0.250000 0.062500 0.083333\n"


def ultralytics_dataset_root(yaml_file: Path, datasets_dir: Path) -> Path:
    """Where Ultralytics (ultralytics/data/utils.py `check_det_dataset`, 8.x) looks for a data.yaml's images:
    its `path:` if set, else the yaml's own folder; a relative one that does not exist from the working
    directory goes under its DATASETS_DIR. Ultralytics is not a dependency (AGPL and a training stack)."""
    data = yaml.safe_load(yaml_file.read_text())
    path = Path(data.get("path") or yaml_file.parent)
    if not path.exists() and not path.is_absolute():
        path = (datasets_dir / path).resolve()
    return path


def test_yolo_data_yaml_finds_its_images_from_any_working_directory(
        version, django_capture_on_commit_callbacks, tmp_path, monkeypatch):
    files = members(export(version, "yolo", django_capture_on_commit_callbacks))
    unpacked = tmp_path / "unpacked"
    for name, body in files.items():
        (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / name).write_bytes(body)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # training started from another folder than the archive's
    root = ultralytics_dataset_root(unpacked / "data.yaml", datasets_dir=tmp_path / "datasets")
    data = yaml.safe_load(files["data.yaml"])
    assert "path" not in data and root == unpacked
    for split in ("train", "val", "test"):
        images = list((root / data[split]).glob("*.jpg"))
        assert images and all((root / "labels" / split / f"{i.stem}.txt").exists() for i in images)


def test_voc_export_has_an_xml_per_image_and_the_split_lists(version, django_capture_on_commit_callbacks):
    files = members(export(version, "voc", django_capture_on_commit_callbacks, archive="tar"))
    splits = expected_splits(version)
    listed = {split: files[f"ImageSets/Main/{split}.txt"].decode().split() for split in ("train", "val", "test")}
    assert {stem.split("_")[0]: split for split, stems in listed.items() for stem in stems} == splits
    objects = 0
    for split_stems in listed.values():
        for stem in split_stems:
            root = ET.fromstring(files[f"Annotations/{stem}.xml"])  # noqa: S314 (our own output)
            assert f"JPEGImages/{root.findtext('filename')}" in files
            width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
            for obj in root.iter("object"):
                objects += 1
                assert obj.findtext("name") in {"person", "bag"}
                box = [int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
                assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height
    assert objects == version.stats["boxes"]


def test_label_studio_export_is_a_task_list_the_sdk_reads_with_annotations_and_predictions(
        version, django_capture_on_commit_callbacks, tmp_path):
    files = members(export(version, "label-studio", django_capture_on_commit_callbacks))
    tasks = json.loads(files["tasks.json"])
    config = files["label_config.xml"].decode()
    converter = Converter(config=config, project_dir=str(tmp_path), download_resources=False)
    assert len(tasks) == 18  # 16 stills and two annotated frames of the clip
    splits = expected_splits(version)
    assert {t["data"]["sha256"]: t["meta"]["split"] for t in tasks} == splits
    read_back = 0
    for task in tasks:
        assert task["data"]["image"].removeprefix("images/") in {Path(n).name for n in files}
        for item in converter.annotation_result_from_task(task):
            read_back += len(item["output"].get("label", []))
        for result in task["annotations"][0]["result"]:
            value = result["value"]
            assert result["type"] == "rectanglelabels" and value["rectanglelabels"][0] in {"person", "bag"}
            assert 0 <= value["x"] <= 100 and 0 <= value["x"] + value["width"] <= 100.0001
        assert task["predictions"][0]["model_version"] == "people-det:3"
        assert task["predictions"][0]["result"][0]["score"] == 0.4
    assert read_back == version.stats["boxes"]
    still = next(t for t in tasks if len(t["annotations"][0]["result"]) == 2)
    assert still["annotations"][0]["result"][0]["value"] | {"rectanglelabels": None} == {
        "x": 100 * 10 / 320, "y": 100 * 20 / 240, "width": 100 * 30 / 320, "height": 100 * 40 / 240,
        "rotation": 0, "rectanglelabels": None}


def test_csv_export_counts_each_class_per_image_and_lists_each_box(version, django_capture_on_commit_callbacks):
    files = members(export(version, "csv", django_capture_on_commit_callbacks, images=False))
    assert list(files) == ["counts.csv", "boxes.csv"]
    boxes = list(csv.DictReader(io.StringIO(files["boxes.csv"].decode())))
    assert sum(1 for b in boxes if b["label"]) == sum(version.stats["boxes_per_class"].values())
    assert {b["sha256"] for b in boxes if not b["label"]}  # images without boxes are listed too
    first = next(b for b in boxes if b["label"] == "bag" and b["x"] == "100")
    assert [first[k] for k in ("y", "width", "height")] == ["50", "20", "20"]
    rows = list(csv.DictReader(io.StringIO(files["counts.csv"].decode())))
    assert len(rows) == 18
    assert {r["sha256"]: r["split"] for r in rows} == expected_splits(version)
    assert sum(int(r["person"]) for r in rows) == version.stats["boxes_per_class"]["person"]
    assert sum(int(r["bag"]) for r in rows) == version.stats["boxes_per_class"]["bag"]
    assert all(int(r["total"]) == int(r["person"]) + int(r["bag"]) for r in rows)
    assert {r["camera"] for r in rows} <= set(Camera.objects.values_list("name", flat=True))
    assert {r["site"] for r in rows} == {"North"}


@pytest.mark.parametrize("archive", ["zip", "tar"])
def test_a_reexport_and_a_rerun_after_an_interrupted_attempt_write_identical_bytes(
        version, django_capture_on_commit_callbacks, monkeypatch, archive):
    first = export(version, "coco", django_capture_on_commit_callbacks, archive=archive)
    second = export(version, "coco", django_capture_on_commit_callbacks, archive=archive)
    assert first.sha256 == second.sha256 and first.pk != second.pk

    calls = {"n": 0}

    def crash_halfway(self, name: str) -> None:
        calls["n"] += 1
        if calls["n"] == 7:
            raise OSError("worker killed")

    job = ExportJob.objects.create(dataset_version=version, format="coco", archive=archive)
    monkeypatch.setattr(archives.ArchiveWriter, "_before_member", crash_halfway)
    with pytest.raises(OSError, match="worker killed"):
        run_export(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "worker killed" in job.error and not job.file
    assert not list(Path(default_storage.path("exports/.tmp")).iterdir())  # the partial file is gone
    monkeypatch.undo()
    rerun = run_export(job_id=job.pk)
    assert rerun.status == "done" and rerun.attempts == 2 and rerun.sha256 == first.sha256
    names = [m for m in members(rerun) if m.startswith("images/")]
    assert names == sorted(names, key=lambda n: (n.split("/")[1], n))  # split, then sha256


def test_the_archive_downloads_with_range_and_is_409_until_done(version, django_capture_on_commit_callbacks):
    bob = as_user("bob")
    pending = bob.post(f"/api/v1/datasets/{version.pk}/exports", {"format": "yolo"}, format="json")
    assert pending.status_code == 202 and pending.json()["status"] == "queued"  # its task waits for the commit
    refused = bob.get(f"/api/v1/exports/{pending.json()['id']}/file")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "export_not_ready"
    job = export(version, "yolo", django_capture_on_commit_callbacks)
    status = bob.get(f"/api/v1/exports/{job.pk}").json()
    assert status["status"] == "done" and status["progress"] == 1.0 and status["sha256"] == job.sha256
    whole = bob.get(status["download_url"])
    body = b"".join(whole.streaming_content)
    assert whole.status_code == 200 and hashlib.sha256(body).hexdigest() == job.sha256
    assert whole["Content-Type"] == "application/zip"
    part = bob.get(status["download_url"], HTTP_RANGE="bytes=100-")
    assert part.status_code == 206 and b"".join(part.streaming_content) == body[100:]
    assert part["Content-Range"] == f"bytes 100-{len(body) - 1}/{len(body)}"


def test_admins_and_reviewers_may_export_an_annotator_is_refused_and_an_outsider_sees_nothing(
        version, django_capture_on_commit_callbacks):
    job = export(version, "csv", django_capture_on_commit_callbacks, user="dana", images=False)
    alice, charlie = as_user("alice"), as_user("charlie")
    before = ExportJob.objects.count()
    refused = alice.post(f"/api/v1/datasets/{version.pk}/exports", {"format": "coco"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert alice.get(f"/api/v1/exports/{job.pk}").status_code == 403
    for response in (charlie.post(f"/api/v1/datasets/{version.pk}/exports", {"format": "coco"}, format="json"),
                     charlie.get(f"/api/v1/exports/{job.pk}"), charlie.get(f"/api/v1/exports/{job.pk}/file"),
                     as_user("bob").post("/api/v1/datasets/999999/exports", {"format": "coco"}, format="json")):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert ExportJob.objects.count() == before


@pytest.mark.parametrize("body", [{"format": "pascal"}, {}, {"format": "coco", "archive": "rar"}])
def test_a_bad_export_request_is_400_and_stores_nothing(version, body):
    response = as_user("bob").post(f"/api/v1/datasets/{version.pk}/exports", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert not ExportJob.objects.exists()


def test_an_export_without_images_has_only_the_labels(version, django_capture_on_commit_callbacks):
    files = members(export(version, "yolo", django_capture_on_commit_callbacks, images=False, archive="tar"))
    assert not any(n.startswith("images/") for n in files)
    assert len([n for n in files if n.startswith("labels/")]) == 18 and "data.yaml" in files


def test_a_running_export_pushes_its_progress_then_its_end(version, django_capture_on_commit_callbacks, monkeypatch):
    from activelearning.datasets import exports
    from reviewer import realtime

    pushed: list[dict] = []
    publish = realtime.publish

    def recording(*, project_id: int, message: dict) -> None:
        pushed.append(message)
        publish(project_id=project_id, message=message)

    monkeypatch.setattr(exports, "PROGRESS_EVERY", 4)
    monkeypatch.setattr(exports, "PUSH_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(realtime, "publish", recording)
    job = export(version, "yolo", django_capture_on_commit_callbacks, images=False)
    statuses = [(m["status"], m.get("progress")) for m in pushed if m["type"] == "export.status"]
    entries = DatasetEntry.objects.filter(dataset_version=version).count()  # 17: progress after 4, 8, 12, 16
    assert statuses == [("running", round(n / entries, 4)) for n in (4, 8, 12, 16)] + [("done", None)]
    assert all(m["export"] == job.pk and m["dataset"] == version.pk for m in pushed)


def test_the_commands_export_label_studio_with_an_image_root_and_its_import_back_is_a_no_op(version, tmp_path):
    """`export_dataset` writes the archive with progress; Label Studio finds each image under the named root;
    `import_labels` of that very tasks.json finds every image's labels already present and queues nothing."""
    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    archive = tmp_path / "ls.zip"
    call_command("export_dataset", version.project.slug, "--format", "label-studio", "--out", str(archive),
                 "--image-root", "s3://bucket/loupe/images/", stdout=out, stderr=err)
    assert f"{version.project.slug} v{version.number}: " in out.getvalue() and archive.exists()
    with zipfile.ZipFile(archive) as zf:
        tasks = json.loads(zf.read("tasks.json"))
    assert tasks and all(t["data"]["image"] == f"s3://bucket/loupe/images/{Path(t['data']['image']).name}"
                         for t in tasks)
    assert all(t["data"]["sha256"] in t["data"]["image"] for t in tasks)
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    AssetHolding.objects.bulk_create([AssetHolding(project=version.project, asset_id=a) for a in
                                      DatasetEntry.objects.filter(dataset_version=version).values_list("asset_id",
                                                                                                        flat=True)])
    items_before = ReviewItem.objects.count()
    out = io.StringIO()
    call_command("import_labels", version.project.slug, str(tmp_path / "tasks.json"), "--user", "dana",
                 stdout=out, stderr=io.StringIO())
    report = json.loads(out.getvalue())
    assert report == {"format": "label-studio", "items": 0, "boxes": 0, "already_present": 17, "dry_run": False}
    assert ReviewItem.objects.count() == items_before
    with pytest.raises(CommandError, match="is not an admin"):
        call_command("import_labels", version.project.slug, str(tmp_path / "tasks.json"), "--user", "bob")
    with pytest.raises(CommandError, match="exists"):
        call_command("export_dataset", version.project.slug, "--format", "coco", "--out", str(archive))
