"""Files both ways with a real Label Studio: Loupe's Label Studio export imports there with the same boxes and
images named under the given root, and Label Studio's own JSON and COCO exports of that project import back into
Loupe as what Loupe already holds (a no-op that says so), matched by the sha256 in the image names."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx
import pytest

from activelearning.datasets.models import DatasetVersion, ExportJob
from annotations.models import AssetHolding
from reviewer.models import ReviewItem
from tests.activelearning.test_exports import members, version  # noqa: F401  (the fixture)
from tests.factories import as_user
from tests.labelstudio_server import LabelStudioServer

pytestmark = pytest.mark.usefixtures("postgres")
ROOT = "https://images.example/loupe"


def _boxes(result: list[dict[str, Any]]) -> list[tuple[str, tuple[float, ...]]]:
    return sorted((r["value"]["rectanglelabels"][0], tuple(round(r["value"][k], 3) for k in (
        "x", "y", "width", "height"))) for r in result if r["type"] == "rectanglelabels")


def test_loupes_export_goes_into_label_studio_and_its_exports_come_back_as_already_present(
        version: DatasetVersion, label_studio: LabelStudioServer,  # noqa: F811  (the imported fixture)
        django_capture_on_commit_callbacks: Any) -> None:
    AssetHolding.objects.bulk_create([AssetHolding(project_id=version.project_id, asset_id=a) for a in set(
        ReviewItem.objects.filter(project_id=version.project_id).values_list("asset_id", flat=True))])
    with django_capture_on_commit_callbacks(execute=True):
        answer = as_user("bob").post(f"/api/v1/datasets/{version.pk}/exports", {
            "format": "label-studio", "include_images": False, "image_root": ROOT}, format="json")
    assert answer.status_code == 202, answer.content
    files = members(ExportJob.objects.get(pk=answer.json()["id"]))
    tasks = json.loads(files["tasks.json"])
    ls = label_studio.client()
    project = ls.projects.create(title="from Loupe", label_config=files["label_config.xml"].decode())
    imported = ls.projects.import_tasks(id=project.id, request=tasks, return_task_ids=True)
    assert imported.task_count == len(tasks) and imported.annotation_count == len(tasks)

    there = sorted(ls.tasks.list(project=project.id, fields="all", page_size=100), key=lambda t: t.id)
    assert len(there) == len(tasks)
    for ours, theirs in zip(tasks, there, strict=True):
        assert theirs.data["image"] == ours["data"]["image"] and theirs.data["image"].startswith(f"{ROOT}/")
        annotation = theirs.annotations[0]
        annotation = annotation if isinstance(annotation, dict) else annotation.dict()
        assert _boxes(annotation["result"]) == _boxes(ours["annotations"][0]["result"])

    headers = {"Authorization": f"Token {label_studio.token}"}
    their_json = httpx.get(f"{label_studio.url}/api/projects/{project.id}/export", params={"exportType": "JSON"},
                           headers=headers, timeout=60)
    assert their_json.status_code == 200
    before = ReviewItem.objects.count()
    back = as_user("dana").generic("POST", f"/api/v1/projects/{version.project_id}/imports", their_json.content,
                                   content_type="application/json")
    assert back.status_code == 200, back.content
    report = back.json()
    assert report["format"] == "label-studio" and report["items"] == 0
    assert report["already_present"] == len({t["data"]["sha256"] for t in tasks})

    their_coco = httpx.get(f"{label_studio.url}/api/projects/{project.id}/export", params={"exportType": "COCO"},
                           headers=headers, timeout=60)
    assert their_coco.status_code == 200
    with zipfile.ZipFile(io.BytesIO(their_coco.content)) as archive:
        coco = archive.read("result.json")
    back = as_user("dana").generic("POST", f"/api/v1/projects/{version.project_id}/imports", coco,
                                   content_type="application/json")
    assert back.status_code == 200, back.content
    assert back.json()["format"] == "coco" and back.json()["items"] == 0
    assert ReviewItem.objects.count() == before  # nothing queued twice
