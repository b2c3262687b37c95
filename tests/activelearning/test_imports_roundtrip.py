"""Every export re-imports with the same boxes (issue 19): a dataset version exported as COCO, YOLO, VOC or Label
Studio (zip and tar), and Label Studio's JSON-MIN and CSV conversions of the Label Studio export, imported into a
fresh project holding the same assets, gives pre-labels equal to the exported boxes; importing again is
`already_present`. Loupe's CSV export holds counts, not boxes, and is refused saying so. Each format's malformed
input is a 400 naming the file, line or record and field (413 past the bounds), and stores nothing. On
PostgreSQL and on the embedded SQLite (tests/test_sqlite_mode.py)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from label_studio_sdk.converter import Converter

from activelearning.datasets.models import DatasetEntry, DatasetVersion
from annotations.models import AssetHolding, AuditEvent, Prediction, Project
from reviewer.models import ReviewItem

# The dataset version test_exports.py exports (16 stills in three splits and two annotated frames of a clip).
from tests.activelearning.test_exports import export
from tests.activelearning.test_exports import version as version  # noqa: PLC0414 (a fixture, used by name)
from tests.factories import add_member, as_user, make_items, make_project

pytestmark = pytest.mark.django_db

Key = list[tuple[str, int, float, float, float, float]]


@pytest.fixture
def fresh(version: DatasetVersion) -> Project:
    """Another project with the same classes holding the version's assets (as if its devices had sent them)."""
    project = make_project("store-counts-copy", classes=("person", "bag"))
    add_member(project, "erin", "admin")
    AssetHolding.objects.bulk_create([AssetHolding(project=project, asset_id=a) for a in DatasetEntry.objects.filter(
        dataset_version=version).values_list("asset_id", flat=True)])
    return project


def archive_bytes(job: Any) -> bytes:
    with default_storage.open(job.file.name, "rb") as handle:
        return handle.read()


def post(project: Project, body: bytes, user: str = "erin", *, dry_run: bool = False):
    suffix = "?dry_run=true" if dry_run else ""
    return as_user(user).post(f"/api/v1/projects/{project.pk}/imports{suffix}", data=body,
                              content_type="application/octet-stream")


def key(boxes: list[dict[str, Any]]) -> Key:
    return sorted((b["label"], b.get("frame_index") or 0, *(round(float(v), 2) for v in b["box"])) for b in boxes)


def exported(version: DatasetVersion, *, voc: bool = False) -> dict[str, Key]:
    """The version's boxes per asset; VOC's whole-pixel corners (its writer rounds them) when `voc`."""
    boxes = {}
    for sha, stored, width, height in DatasetEntry.objects.filter(dataset_version=version).values_list(
            "asset__sha256", "annotation__boxes", "asset__width", "asset__height"):
        if voc:
            stored = [{**b, "box": _voc_corners(b["box"], width, height)} for b in stored]
        boxes[sha] = key(stored)
    return boxes


def _voc_corners(box: list[float], width: int, height: int) -> list[float]:
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, round(x)), max(0, round(y)), min(width, round(x + w)), min(height, round(y + h))
    return [x0, y0, x1 - x0, y1 - y0]


def imported(project: Project, fmt: str) -> dict[str, Key]:
    return {sha: key(detections) for sha, detections in Prediction.objects.filter(
        project=project, model_name=f"import:{fmt}").values_list("asset__sha256", "detections")}


def assert_round_trip(version: DatasetVersion, project: Project, body: bytes, fmt: str, *, voc: bool = False):
    """Imported once: one pending item per asset with exactly the exported boxes; again: nothing new."""
    expected = exported(version, voc=voc)
    checked = post(project, body, dry_run=True)
    assert checked.status_code == 200, checked.content
    assert (checked.json()["format"], checked.json()["items"]) == (fmt, len(expected))
    response = post(project, body)
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["format"], report["items"], report["already_present"]) == (fmt, len(expected), 0)
    assert report["boxes"] == version.stats["boxes"]
    assert imported(project, fmt) == expected
    assert set(ReviewItem.objects.filter(project=project).values_list("status", flat=True)) == {"pending"}
    before = (ReviewItem.objects.count(), Prediction.objects.count())
    again = post(project, body)
    assert again.status_code == 200, again.content
    assert (again.json()["items"], again.json()["already_present"]) == (0, len(expected))
    assert (ReviewItem.objects.count(), Prediction.objects.count()) == before


@pytest.mark.parametrize(("fmt", "archive"), [
    ("coco", "zip"), ("coco", "tar"), ("yolo", "zip"), ("yolo", "tar"), ("voc", "zip"), ("voc", "tar"),
    ("label-studio", "zip"), ("label-studio", "tar"), ("csv", "zip"), ("csv", "tar"),
])
def test_each_export_archive_re_imports_with_the_same_boxes(version, fresh, django_capture_on_commit_callbacks,
                                                            fmt, archive):
    job = export(version, fmt, django_capture_on_commit_callbacks, archive=archive, images=fmt == "yolo")
    assert_round_trip(version, fresh, archive_bytes(job), fmt, voc=fmt == "voc")


def test_the_coco_files_as_pycocotools_loads_them_re_import_with_the_same_boxes(
        version, fresh, django_capture_on_commit_callbacks, tmp_path):
    from pycocotools.coco import COCO

    job = export(version, "coco", django_capture_on_commit_callbacks, images=False)
    with zipfile.ZipFile(io.BytesIO(archive_bytes(job))) as zf:
        zf.extractall(tmp_path)  # noqa: S202 (our own export, just written)
    expected, items = exported(version), 0
    for split in ("train", "val", "test"):
        coco = COCO(str(tmp_path / "annotations" / f"instances_{split}.json"))
        # What pycocotools holds, written back as JSON: one split's file, imported on its own.
        response = post(fresh, json.dumps(coco.dataset).encode())
        assert response.status_code == 201, response.content
        assert response.json()["format"] == "coco"
        items += response.json()["items"]
        # pycocotools' own results file (loadRes adds area and id; a score is kept as the box's score)
        results = coco.loadRes([{**a, "score": 0.5} for a in coco.dataset["annotations"]]) \
            if coco.dataset["annotations"] else None
        if results is not None:
            rerun = post(fresh, json.dumps(results.dataset).encode())
            assert rerun.status_code == 200 and rerun.json()["items"] == 0, rerun.content  # same boxes: present
    assert items == len(expected) and imported(fresh, "coco") == expected


def test_the_yolo_export_has_the_ultralytics_layout(version, django_capture_on_commit_callbacks, tmp_path,
                                                     monkeypatch):
    """Ultralytics is not installed here: its dataset layout is checked by hand as `check_det_dataset` and
    `img2label_paths` read it, from another working directory (data.yaml has no `path:`, so the splits are
    relative to the yaml's folder)."""
    job = export(version, "yolo", django_capture_on_commit_callbacks)
    root = tmp_path / "dataset"
    with zipfile.ZipFile(io.BytesIO(archive_bytes(job))) as zf:
        zf.extractall(root)  # noqa: S202 (our own export, just written)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert "path" not in data and data["nc"] == len(data["names"]) and data["names"] == {0: "person", 1: "bag"}
    images = 0
    for split in ("train", "val", "test"):
        folder = (root / "data.yaml").parent / data[split]
        assert folder.is_dir()
        for image in folder.iterdir():
            label = Path(str(image).replace("/images/", "/labels/")).with_suffix(".txt")  # img2label_paths
            assert label.is_file(), label
            for line in label.read_text().splitlines():
                cls, *box = line.split()
                assert int(cls) in data["names"] and len(box) == 4 and all(0 <= float(v) <= 1 for v in box)
            images += 1
    assert images == 18  # 16 stills and two frames of the clip


def ls_conversions(version, capture, tmp_path) -> Converter:
    files = {}
    job = export(version, "label-studio", capture, images=False)
    with zipfile.ZipFile(io.BytesIO(archive_bytes(job))) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    (tmp_path / "tasks.json").write_bytes(files["tasks.json"])
    return Converter(config=files["label_config.xml"].decode(), project_dir=str(tmp_path), download_resources=False)


def test_label_studios_json_min_export_re_imports_with_the_same_boxes(
        version, fresh, django_capture_on_commit_callbacks, tmp_path):
    converter = ls_conversions(version, django_capture_on_commit_callbacks, tmp_path)
    converter.convert_to_json_min(str(tmp_path / "tasks.json"), str(tmp_path / "min"), is_dir=False)
    body = (tmp_path / "min" / "result.json").read_bytes()
    records = json.loads(body)
    assert len(records) == 18 and all("data" not in r for r in records)  # an image without boxes has no `label`
    assert sum(len(r.get("label", [])) for r in records) == version.stats["boxes"]
    assert_round_trip(version, fresh, body, "label-studio-min")


def test_label_studios_csv_export_re_imports_with_the_same_boxes(
        version, fresh, django_capture_on_commit_callbacks, tmp_path):
    converter = ls_conversions(version, django_capture_on_commit_callbacks, tmp_path)
    converter.convert_to_csv(str(tmp_path / "tasks.json"), str(tmp_path / "csv"), is_dir=False, sep=",")
    body = (tmp_path / "csv" / "result.csv").read_bytes()
    assert_round_trip(version, fresh, body, "label-studio-csv")


def test_loupes_counts_csv_is_refused_saying_it_holds_no_boxes(version, fresh, django_capture_on_commit_callbacks):
    body = archive_bytes(export(version, "csv", django_capture_on_commit_callbacks, images=False))
    counts = zipfile.ZipFile(io.BytesIO(body)).read("counts.csv")
    before = stored()
    for sent, where in ((zip_of({"counts.csv": counts}), {"file": "counts.csv", "line": 1, "field": "header"}),
                        (counts, {"line": 1, "field": "header"})):
        response = post(fresh, sent)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "invalid_import" and "counts per class" in error["message"]
        assert {k: error["details"].get(k) for k in where} == where
    assert stored() == before


# Bad input, per format: a small project of three 320×240 assets.

@pytest.fixture
def small(db) -> Project:
    project = make_project("bus-counts", classes=("person", "bag"))
    add_member(project, "dana", "admin")
    User.objects.create_user("charlie", password="pw-123456")
    make_items(project, 3)
    return project


@pytest.fixture
def shas(small) -> list[str]:
    return list(ReviewItem.objects.filter(project=small).order_by("pk").values_list("asset__sha256", flat=True))


def stored() -> tuple[int, int, int]:
    return ReviewItem.objects.count(), Prediction.objects.count(), AuditEvent.objects.count()


def zip_of(files: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def refused(project: Project, body: bytes, where: dict[str, Any], *, status: int = 400,
            code: str = "invalid_import", user: str = "dana") -> dict[str, Any]:
    before = stored()
    response = post(project, body, user=user)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and {k: error["details"].get(k) for k in where} == where, error
    assert stored() == before
    return error


YAML = b'train: images/train\nval: images/val\nnames:\n  0: "person"\n  1: "bag"\n'


def test_a_yolo_archive_imports_its_boxes_in_pixels_of_the_matched_asset(small, shas):
    body = zip_of({"data.yaml": YAML, f"labels/train/{shas[0]}.txt": b"1 0.5 0.5 0.25 0.5\n\n0 0.1 0.1 0.2 0.2 0.9\n",
                   f"images/train/{shas[1]}.jpg": b"not read", f"labels/val/{shas[2]}.txt": b""})
    response = post(small, body, user="dana")
    assert response.status_code == 201, response.content
    assert response.json()["format"] == "yolo" and response.json()["items"] == 3
    detections = {p.asset.sha256: p.detections for p in Prediction.objects.filter(model_name="import:yolo")}
    assert detections == {shas[0]: [{"label": "bag", "box": [120.0, 60.0, 80.0, 120.0]},
                                    {"label": "person", "box": [0.0, 0.0, 64.0, 48.0], "score": 0.9}],
                          shas[1]: [], shas[2]: []}


@pytest.mark.parametrize(("files", "where"), [
    ({"labels/train/{0}.txt": b"0 0.5 0.5 0.2\n"}, {"file": "labels/train/{0}.txt", "line": 1, "field": "line"}),
    ({"labels/train/{0}.txt": b"0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n"},
     {"file": "labels/train/{0}.txt", "line": 2, "field": "class"}),
    ({"labels/train/{0}.txt": b"0 0.5 nan 0.2 0.2\n"}, {"file": "labels/train/{0}.txt", "line": 1, "field": "cy"}),
    ({"labels/train/{0}.txt": b"0 1.5 0.5 0.2 0.2\n"}, {"file": "labels/train/{0}.txt", "line": 1, "field": "box"}),
    ({"labels/train/IMG_1.txt": b"0 0.5 0.5 0.2 0.2\n"}, {"file": "labels/train/IMG_1.txt", "field": "file"}),
    ({"labels/train/{1}.txt": b"\xff\xfe\n"}, {"file": "labels/train/{1}.txt"}),
    ({"labels/train/{0}.txt": b"0 0.5 0.5 0.2 0.2\n", "data.yaml": b"names: [person\n"}, {"file": "data.yaml"}),
    ({"labels/train/{0}.txt": b"0 0.5 0.5 0.2 0.2\n", "data.yaml": b"nc: 2\n"}, {"file": "data.yaml",
                                                                               "field": "names"}),
    ({"labels/train/{0}.txt": b"0 0.5 0.5 0.2 0.2\n", "data.yaml": b"names: [dog]\n"},
     {"file": "labels/train/{0}.txt", "line": 1, "field": "class", "label": "dog"}),
    ({"labels/train/{2}.txt": b""}, {"file": "labels/train/{2}.txt", "sha256": "{2}"}),
])
def test_a_bad_yolo_archive_is_refused_saying_where(small, shas, files, where):
    names = [*shas[:2], "e" * 64]
    body = {"data.yaml": YAML} | {k.format(*names): v for k, v in files.items()}
    where = {k: v.format(*names) if isinstance(v, str) else v for k, v in where.items()}
    refused(small, zip_of(body), where)
    refused(small, tar_of(body), where)


def voc(sha: str, objects: str, *, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0"?>{prolog}<annotation><filename>{sha}.jpg</filename><source><sha256>{sha}'
            f"</sha256></source><size><width>320</width><height>240</height><depth>3</depth></size>{objects}"
            "</annotation>").encode()


def obj(label: str = "person", corners: tuple[Any, ...] = (10, 20, 40, 60)) -> str:
    box = "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True))
    return f"<object><name>{label}</name><bndbox>{box}</bndbox></object>"


def test_voc_annotations_import_as_an_archive_or_one_file(small, shas):
    body = zip_of({f"Annotations/{shas[0]}.xml": voc(shas[0], obj() + obj("bag", (300, 200, 330, 250))),
                   f"Annotations/{shas[1]}.xml": voc(shas[1], "")})
    response = post(small, body, user="dana")
    assert response.status_code == 201 and response.json()["format"] == "voc", response.content
    detections = {p.asset.sha256: p.detections for p in Prediction.objects.filter(model_name="import:voc")}
    assert detections == {shas[0]: [{"label": "person", "box": [10.0, 20.0, 30.0, 40.0]},
                                    {"label": "bag", "box": [300.0, 200.0, 20.0, 40.0]}],  # clipped to 320×240
                          shas[1]: []}
    one = post(small, voc(shas[2], obj()), user="dana")
    assert one.status_code == 201 and one.json()["format"] == "voc" and one.json()["boxes"] == 1


BILLION_LAUGHS = '<!DOCTYPE annotation [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'


@pytest.mark.parametrize(("xml", "where"), [
    (lambda s: voc(s, obj("&b;"), prolog=BILLION_LAUGHS), {"file": "Annotations/x.xml"}),
    (lambda s: voc(s, obj(), prolog='<!DOCTYPE annotation SYSTEM "file:///etc/passwd">'),
     {"file": "Annotations/x.xml"}),
    (lambda s: voc(s, obj())[:-5], {"file": "Annotations/x.xml", "line": 1}),
    (lambda s: voc(s, obj() + obj(corners=(10, 20, "", 60))), {"object": 1, "field": "bndbox.xmax"}),
    (lambda s: voc(s, obj(corners=(10, 20, 5, 60))), {"object": 0, "field": "bndbox"}),
    (lambda s: voc(s, obj(corners=(400, 20, 500, 60))), {"object": 0, "field": "bndbox"}),
    (lambda s: voc(s, obj("dog")), {"object": 0, "field": "name", "label": "dog"}),
    (lambda s: voc(s, "<object><bndbox/></object>"), {"object": 0, "field": "name"}),
    (lambda s: voc("e" * 64, obj()), {"file": "Annotations/x.xml", "sha256": "e" * 64}),
    (lambda s: voc("IMG_1", obj()), {"file": "Annotations/x.xml", "field": "filename"}),
    (lambda s: b"<html><body/></html>", {"file": "Annotations/x.xml"}),
])
def test_a_bad_voc_file_is_refused_saying_where_and_no_dtd_is_read(small, shas, xml, where):
    body = xml(shas[0])
    refused(small, zip_of({"Annotations/x.xml": body}), where)
    refused(small, body, {k: v for k, v in where.items() if k != "file"})


def test_json_min_records_import_their_regions(small, shas):
    records = [{"image": f"/data/upload/3/8864c67b-{shas[0]}.jpg", "id": 1,
                "label": [{"x": 10, "y": 20, "width": 25, "height": 50, "rotation": 0, "rectanglelabels": ["bag"],
                           "original_width": 320, "original_height": 240}], "annotator": 1},
               {"image": "s3://bucket/x.jpg", "sha256": shas[1], "choice": "busy"}]
    response = post(small, json.dumps(records).encode(), user="dana")
    assert response.status_code == 201 and response.json()["format"] == "label-studio-min", response.content
    detections = {p.asset.sha256: p.detections for p in Prediction.objects.filter(model_name="import:label-studio-min")}
    assert detections == {shas[0]: [{"label": "bag", "box": [32.0, 48.0, 80.0, 120.0]}], shas[1]: []}


@pytest.mark.parametrize(("breaks", "where"), [
    ("no image", {"record": 1, "field": "image"}),
    ("two labels", {"record": 0, "field": "label[0].rectanglelabels"}),
    ("x", {"record": 0, "field": "label[0].x"}),
    ("label", {"record": 0, "field": "label[0].rectanglelabels", "label": "dog"}),
    ("outside", {"record": 0, "field": "label[0]"}),
    ("not an object", {"record": 1}),
])
def test_a_bad_json_min_record_is_refused_saying_where(small, shas, breaks, where):
    region = {"x": 10, "y": 20, "width": 25, "height": 50, "rectanglelabels": ["bag"]}
    records: list[Any] = [{"image": f"{shas[0]}.jpg", "label": [region]}, {"image": f"{shas[1]}.jpg"}]
    if breaks == "no image":
        records[1]["image"] = "cat.jpg"
    elif breaks == "two labels":
        region["rectanglelabels"] = ["bag", "person"]
    elif breaks == "x":
        region["x"] = "10"
    elif breaks == "label":
        region["rectanglelabels"] = ["dog"]
    elif breaks == "outside":
        region["x"] = 120
    else:
        records[1] = "x.jpg"
    refused(small, json.dumps(records).encode(), where)


def test_box_rows_in_a_csv_import_in_pixels(small, shas):
    body = (f"image,label,x,y,width,height,score\n{shas[0]}.jpg,person,10,20,30,40,0.5\n"
            f"{shas[0]}.jpg,bag,300,200,40,40,\n{shas[1]}.jpg,,,,,,\n").encode()
    response = post(small, body, user="dana")
    assert response.status_code == 201 and response.json()["format"] == "csv", response.content
    detections = {p.asset.sha256: p.detections for p in Prediction.objects.filter(model_name="import:csv")}
    assert detections == {shas[0]: [{"label": "person", "box": [10.0, 20.0, 30.0, 40.0], "score": 0.5},
                                    {"label": "bag", "box": [300.0, 200.0, 20.0, 40.0]}], shas[1]: []}


@pytest.mark.parametrize(("rows", "where"), [
    ("{0}.jpg,person,10,20,thirty,40", {"line": 2, "field": "width"}),
    ("{0}.jpg,person,10,20,30,40\n{0}.jpg,dog,10,20,30,40", {"line": 3, "field": "label", "label": "dog"}),
    ("IMG_1.jpg,person,10,20,30,40", {"line": 2, "field": "image"}),
    ("{2}.jpg,person,10,20,30,40", {"line": 2, "sha256": "{2}"}),
    ("{0}.jpg,person,400,20,30,40", {"line": 2, "field": "x"}),
    ('{0}.jpg,"person,10,20,30,40', {"line": 2}),
])
def test_a_bad_csv_is_refused_saying_where(small, shas, rows, where):
    names = [*shas[:2], "e" * 64]
    body = ("image,label,x,y,width,height\n" + rows.format(*names) + "\n").encode()
    where = {k: v.format(*names) if isinstance(v, str) else v for k, v in where.items()}
    refused(small, body, where)
    refused(small, zip_of({"boxes.csv": body}), {"file": "boxes.csv", **where})
    refused(small, b"name,colour\nx,red\n", {"line": 1, "field": "header"})


def test_an_archive_is_bounded_in_members_and_in_uncompressed_bytes(small, shas, settings):
    labels = {f"labels/train/{sha}.txt": b"0 0.5 0.5 0.2 0.2\n" for sha in shas}
    settings.LOUPE_MAX_IMPORT_TASKS = 2  # 2 × 3 + 16 = 22 members at most
    many = {"data.yaml": YAML, **labels, **{f"images/train/{i:04d}.jpg": b"" for i in range(20)}}
    error = refused(small, zip_of(many), {"max": 22, "count": 24}, status=413, code="too_large")
    assert "members" in error["message"]
    settings.LOUPE_MAX_IMPORT_TASKS = 100
    settings.LOUPE_MAX_IMPORT_BYTES = 50_000
    bomb = {"data.yaml": YAML, f"labels/train/{shas[0]}.txt": b"\n" * 10_000_000}  # 10 MB of blank lines
    body = zip_of(bomb)
    assert len(body) < 50_000  # the zip itself is small: deflate packs it 1000 to 1
    refused(small, body, {"file": f"labels/train/{shas[0]}.txt", "max_bytes": 50_000}, status=413, code="too_large")


def test_a_broken_or_unreadable_archive_is_a_400(small, shas):
    good = zip_of({"data.yaml": YAML, f"labels/train/{shas[0]}.txt": b"0 0.5 0.5 0.2 0.2\n" * 50})
    refused(small, good[:len(good) // 2], {"file": "$"})  # truncated: no central directory
    corrupt = bytearray(good)
    at = corrupt.index(b"labels/train/") + len(f"labels/train/{shas[0]}.txt") + 5  # inside the deflated data
    corrupt[at:at + 8] = b"\x00" * 8
    refused(small, bytes(corrupt), {"file": f"labels/train/{shas[0]}.txt"})
    # Found by fuzzing (each was a 500): a central directory larger than the file (a negative seek), and a member
    # needing zip version 9.9.
    wild = bytearray(good)
    wild[-10:-6] = (0x7FFFFFFF).to_bytes(4, "little")  # the end record's central directory size
    refused(small, bytes(wild), {"file": "$"})
    version = bytearray(good)
    central = version.index(b"PK\x01\x02")
    version[central + 6:central + 8] = (99).to_bytes(2, "little")  # version needed to extract
    refused(small, bytes(version), {"file": "$"})
    bz2 = zip_of({"data.yaml": YAML, f"labels/train/{shas[0]}.txt": b"0 0.5 0.5 0.2 0.2\n"},
                 method=zipfile.ZIP_BZIP2)
    refused(small, bz2, {"file": "data.yaml"})
    tar = tar_of({"data.yaml": YAML})
    refused(small, gzip.compress(tar), {"file": "$"})
    refused(small, tar[:520], {"file": "$"})  # the member's data cut short
    refused(small, zip_of({"README.md": b"hello"}), {"file": "$"})
    refused(small, zip_of({"a/tasks.json": b"[]", "b/instances.json": b'{"images": []}'}), {"file": "$"})
    refused(small, zip_of({"tasks.json": b"[1,"}), {"file": "tasks.json", "line": 1}, code="malformed_json")
    refused(small, zip_of({"annotations/instances_train.json": b'{"categories": []}'}),
            {"file": "annotations/instances_train.json", "field": "$"})
    refused(small, zip_of({"annotations/instances_train.json": json.dumps(
        {"images": [{"id": 1, "file_name": f"{shas[0]}.jpg"}], "annotations": [{"image_id": 1, "category_id": 9,
                                                                               "bbox": [0, 0, 5, 5]}],
         "categories": []}).encode()}),
            {"file": "annotations/instances_train.json", "annotation": 0, "field": "category_id"})


def test_only_admins_import_an_archive(small, shas):
    body = zip_of({"data.yaml": YAML, f"labels/train/{shas[0]}.txt": b"0 0.5 0.5 0.2 0.2\n"})
    add_member(small, "bob", "reviewer")
    refused(small, body, {}, status=403, code="forbidden", user="bob")
    refused(small, body, {}, status=404, code="not_found", user="charlie")


def test_the_counts_csv_header_is_recognised_whatever_the_classes(small):
    rows = io.StringIO()
    csv.writer(rows).writerows([["image", "sha256", "frame_index", "split", "site", "camera", "car", "total"],
                                ["x.jpg", "e" * 64, "", "train", "", "", "1", "1"]])
    refused(small, rows.getvalue().encode(), {"line": 1, "field": "header"})
