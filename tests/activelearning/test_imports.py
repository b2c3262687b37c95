"""Imports of Label Studio and COCO labels as pre-labels of new review items: matched by sha256 to the
project's assets, never fetched; a bad file is refused whole with where it is wrong, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotations.models import Annotation, AuditEvent, Prediction
from reviewer.models import ReviewItem
from tests.factories import add_member, as_user, make_asset, make_items, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(db):
    project = make_project("store-counts", classes=("person", "bag"))
    add_member(project, "dana", "admin")
    add_member(project, "bob", "reviewer")
    User.objects.create_user("charlie", password="pw-123456")
    make_items(project, 3)  # three assets of the project (320×240), each with an item and a device prediction
    return project


@pytest.fixture
def shas(project) -> list[str]:
    return list(ReviewItem.objects.filter(project=project).order_by("pk").values_list("asset__sha256", flat=True))


def rect(x: float, y: float, w: float, h: float, label: str = "person", **extra: Any) -> dict[str, Any]:
    return {"type": "rectanglelabels", "from_name": "label", "to_name": "image",
            "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]}, **extra}


def ls_tasks(shas: list[str]) -> list[dict[str, Any]]:
    return [
        {"data": {"image": f"https://elsewhere.example/media/{shas[0]}.jpg"},
         "annotations": [{"result": [rect(0, 0, 100, 100)], "was_cancelled": True},
                         {"result": [rect(10, 20, 25, 50), rect(50, 50, 10, 10, "bag"),
                                     {"type": "choices", "value": {"choices": ["busy"]}}]}]},
        {"data": {"image": f"/data/local-files/?d=uploads/{shas[1]}.jpg"},
         "predictions": [{"model_version": "yolo", "result": [rect(0, 0, 50, 50, score=0.8)]}]},
        {"data": {"image": "s3://bucket/whatever.jpg", "sha256": shas[2]}, "annotations": []},
    ]


def post(body: Any, user: str = "dana", project_id: int | None = None, raw: bytes | None = None):
    pid = project_id or ReviewItem.objects.values_list("project_id", flat=True).first()
    data = raw if raw is not None else json.dumps(body).encode()
    return as_user(user).post(f"/api/v1/projects/{pid}/imports", data=data, content_type="application/json")


def stored() -> tuple[int, int, int]:
    return ReviewItem.objects.count(), Prediction.objects.count(), AuditEvent.objects.count()


def test_label_studio_tasks_become_pending_items_with_their_boxes_as_server_prelabels(project, shas):
    response = post(ls_tasks(shas))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["format"] == "label-studio" and body["items"] == 3 and body["boxes"] == 3
    items = list(ReviewItem.objects.filter(pk__in=body["item_ids"]).select_related("prediction", "asset")
                 .order_by("pk"))
    assert [i.asset.sha256 for i in items] == shas and {i.status for i in items} == {"pending"}
    first, second, third = (i.prediction for i in items)
    assert {p.source for p in (first, second, third)} == {"server"}
    assert {p.model_name for p in (first, second, third)} == {"import:label-studio"}
    # the last annotation that was not cancelled, in pixels of the 320×240 asset; the choices result is ignored
    assert first.detections == [{"label": "person", "box": [32.0, 48.0, 80.0, 120.0]},
                                {"label": "bag", "box": [160.0, 120.0, 32.0, 24.0]}]
    assert second.detections == [{"label": "person", "box": [0.0, 0.0, 160.0, 120.0], "score": 0.8}]
    assert third.detections == [] and third.detection_count == 0
    assert AuditEvent.objects.filter(action="labels.imported").count() == 1


def test_a_coco_file_is_matched_by_file_name_and_its_categories_by_name(project, shas):
    coco = {"images": [{"id": 7, "file_name": f"{shas[0]}.jpg", "width": 320, "height": 240},
                       {"id": 8, "file_name": f"frames/{shas[1].upper()}.png", "width": 320, "height": 240}],
            "categories": [{"id": 1, "name": "bag"}, {"id": 2, "name": "person"}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 2, "bbox": [1, 2, 30, 40]},
                            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [100, 100, 20, 20], "score": 0.9}]}
    response = post(coco)
    assert response.status_code == 201, response.content
    assert response.json() | {"item_ids": None} == {"format": "coco", "items": 2, "boxes": 2, "item_ids": None,
                                                    "already_present": 0, "dry_run": False}
    predictions = {p.asset.sha256: p for p in Prediction.objects.filter(model_name="import:coco")}
    assert predictions[shas[0]].detections == [{"label": "person", "box": [1.0, 2.0, 30.0, 40.0]},
                                               {"label": "bag", "box": [100.0, 100.0, 20.0, 20.0], "score": 0.9}]
    assert predictions[shas[1]].detections == []


def label_studio_case(shas: list[str], breaks: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    tasks = ls_tasks(shas)
    if breaks == "box outside":
        tasks[1]["predictions"][0]["result"].append(rect(101, 10, 30, 10))
        return tasks, {"task": 1, "prediction": 0, "result": 1, "field": "value"}
    if breaks == "unknown image":
        tasks[2]["data"] = {"image": f"https://elsewhere.example/{'f' * 64}.jpg"}
        return tasks, {"task": 2, "field": "data.image", "sha256": "f" * 64}
    if breaks == "no sha256":
        tasks[2]["data"] = {"image": "https://elsewhere.example/cat.jpg"}
        return tasks, {"task": 2, "field": "data.image"}
    if breaks == "label":
        tasks[0]["annotations"][1]["result"][1]["value"]["rectanglelabels"] = ["dog"]
        return tasks, {"task": 0, "annotation": 1, "result": 1, "field": "value.rectanglelabels", "label": "dog"}
    if breaks == "not a number":
        tasks[0]["annotations"][1]["result"][0]["value"]["x"] = "10"
        return tasks, {"task": 0, "annotation": 1, "result": 0, "field": "value.x"}
    raise AssertionError(breaks)


@pytest.mark.parametrize("breaks", ["box outside", "unknown image", "no sha256", "label", "not a number"])
def test_a_bad_label_studio_task_rejects_the_whole_import_and_says_where(project, shas, breaks):
    tasks, where = label_studio_case(shas, breaks)
    before = stored()
    response = post(tasks)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_import" and {k: error["details"].get(k) for k in where} == where
    assert stored() == before


def test_an_asset_of_another_project_is_an_unknown_image(project, shas):
    other = make_project("bus-counts")
    foreign = make_items(other, 1)[0].asset.sha256
    orphan = make_asset("nobody's").sha256
    for sha in (foreign, orphan):
        before = stored()
        response = post([{"data": {"image": f"{sha}.jpg"}}])
        assert response.status_code == 400 and response.json()["error"]["details"]["field"] == "data.image"
        assert stored() == before


@pytest.mark.parametrize(("breaks", "where"), [
    ("bbox", {"annotation": 1, "field": "bbox"}),
    ("image_id", {"annotation": 1, "field": "image_id"}),
    ("category", {"annotation": 1, "field": "category_id", "label": "dog"}),
    ("file_name", {"image": 1, "field": "file_name"}),
])
def test_a_bad_coco_file_rejects_the_whole_import(project, shas, breaks, where):
    coco: dict[str, Any] = {
        "images": [{"id": 1, "file_name": f"{shas[0]}.jpg"}, {"id": 2, "file_name": f"{shas[1]}.jpg"}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
        "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
                        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10]}]}
    if breaks == "bbox":
        coco["annotations"][1]["bbox"] = [330, 200, 40, 10]  # wholly right of the 320-px frame
    elif breaks == "image_id":
        coco["annotations"][1]["image_id"] = 99
    elif breaks == "category":
        coco["annotations"][1]["category_id"] = 2
    else:
        coco["images"][1]["file_name"] = "IMG_0001.jpg"
    before = stored()
    response = post(coco)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_import" and {k: error["details"].get(k) for k in where} == where
    assert stored() == before


def test_malformed_json_is_400_with_line_and_column(project):
    before = stored()
    response = post(None, raw=b'[\n  {"data": {"image": "x.jpg"},,}\n]')
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "malformed_json" and error["details"]["line"] == 2
    assert 30 <= error["details"]["column"] <= 33  # at the stray comma
    assert stored() == before
    assert post({"hello": "world"}).json()["error"]["code"] == "invalid_import"


def test_too_many_tasks_or_bytes_is_413_and_stores_nothing(project, shas, settings):
    settings.LOUPE_MAX_IMPORT_TASKS = 2
    before = stored()
    response = post(ls_tasks(shas))
    assert response.status_code == 413 and response.json()["error"]["details"] == {"max": 2, "count": 3}
    settings.LOUPE_MAX_IMPORT_TASKS = 100
    settings.LOUPE_MAX_IMPORT_BYTES = 100
    response = post(ls_tasks(shas))
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert stored() == before


def test_only_admins_may_import_and_an_outsider_gets_404(project, shas):
    before = stored()
    refused = post(ls_tasks(shas), user="bob", project_id=project.pk)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    hidden = post(ls_tasks(shas), user="charlie", project_id=project.pk)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    assert stored() == before


def test_importing_the_same_file_again_is_a_no_op_reported_as_such(project, shas):
    first = post(ls_tasks(shas))
    assert first.status_code == 201 and first.json()["items"] == 3
    before = stored()
    again = post(ls_tasks(shas))
    assert again.status_code == 200, again.content
    assert again.json() | {"item_ids": None} == {"format": "label-studio", "items": 0, "boxes": 0,
                                                 "already_present": 3, "dry_run": False, "item_ids": None}
    assert stored()[:2] == before[:2]  # no item, no prediction: only the audit of the attempt
    # One task changed in the file: only that one is queued again.
    tasks = ls_tasks(shas)
    tasks[1]["predictions"][0]["result"][0]["value"]["x"] = 20
    changed = post(tasks).json()
    assert (changed["items"], changed["already_present"]) == (1, 2)


def test_a_dry_run_reports_what_would_be_queued_and_writes_nothing(project, shas):
    before = stored()
    response = as_user("dana").post(f"/api/v1/projects/{project.pk}/imports?dry_run=true",
                                    data=json.dumps(ls_tasks(shas)).encode(), content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() | {"item_ids": None} == {"format": "label-studio", "items": 3, "boxes": 3,
                                                    "already_present": 0, "dry_run": True, "item_ids": None}
    assert stored() == before


def test_labels_equal_to_the_newest_annotation_are_already_present(project, shas):
    """An export of Loupe's own accepted labels, imported back, queues nothing."""
    item = ReviewItem.objects.get(project=project, asset__sha256=shas[0])
    Annotation.objects.create(project=project, asset=item.asset, review_item_id=item.pk, version=1,
                              author=User.objects.get(username="bob"), submitted_at=timezone.now(),
                              boxes=[{"label": "person", "box": [32, 48, 80, 120]},
                                     {"label": "bag", "box": [160, 120, 32, 24]}])
    body = post(ls_tasks(shas)[:1]).json()
    assert (body["items"], body["already_present"]) == (0, 1)


def test_a_box_over_the_edge_is_clipped_as_everywhere_else(project, shas):
    tasks = ls_tasks(shas)[1:2]
    tasks[0]["predictions"][0]["result"] = [rect(80, 10, 30, 10)]  # 80 % + 30 % of the width
    assert post(tasks).status_code == 201
    assert Prediction.objects.get(model_name="import:label-studio").detections == [
        {"label": "person", "box": [256.0, 24.0, 64.0, 24.0]}]


def test_label_studios_own_coco_export_names_are_matched_by_the_sha256_inside(project, shas):
    """Label Studio's COCO export of a project made from Loupe's images names them as its upload folder
    does: `../media/upload/7/8864c67b-<sha256>.jpg`."""
    coco = {"images": [{"id": 0, "file_name": f"../media/upload/7/8864c67b-{shas[0]}.jpg", "width": 320,
                        "height": 240}],
            "categories": [{"id": 0, "name": "person"}],
            "annotations": [{"id": 0, "image_id": 0, "category_id": 0, "bbox": [1, 2, 30, 40]}]}
    response = post(coco)
    assert response.status_code == 201, response.content
    assert Prediction.objects.get(model_name="import:coco").asset.sha256 == shas[0]
