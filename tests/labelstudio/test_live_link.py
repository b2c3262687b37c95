"""The live link against a real Label Studio server and a real Loupe server (uvicorn on the test database): push
items as tasks with predictions, annotate through Label Studio's API, and check the versions Loupe stored —
by webhook, by polling with webhooks off, re-delivered, updated, and with a task deleted there."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from activelearning.labelstudio.models import LabelStudioLink, LabelStudioTask, LabelStudioVersion, TaskState
from activelearning.labelstudio.services import secret_hash, sync
from activelearning.labelstudio.tokens import seal
from activelearning.training.models import RetrainState
from annotations.models import Annotation, AuditEvent, Role
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import add_member, as_user, make_items, make_project
from tests.labelstudio_server import LabelStudioServer
from tests.server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loupe(postgres: None, _media_root: Any, settings: Any) -> Any:
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    with LiveServer(_media_root, env={"LOUPE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"}) as server:
        yield server


def _project_with_people(n_items: int) -> tuple[Any, User, User]:
    project = make_project("ls-live", classes=("person", "bag"))
    project.qa_sample_rate = 0.0  # every submission is accepted: the retrain threshold counts them
    project.save(update_fields=["qa_sample_rate"])
    make_items(project, n_items)
    admin = add_member(project, "ls-admin", Role.ADMIN)
    annotator = add_member(project, "ls-annotator", Role.ANNOTATOR)
    annotator.email = "Annotator@LabelStudio.example"  # matched case-insensitively to Label Studio's user
    annotator.save(update_fields=["email"])
    return project, admin, annotator


def _link(project: Any, label_studio: LabelStudioServer, loupe: LiveServer, *, webhooks: bool = True) -> dict[str, Any]:
    response = as_user("ls-admin").put(f"/api/v1/projects/{project.pk}/labelstudio", {
        "url": label_studio.url, "token": label_studio.token, "loupe_url": loupe.url,
        "webhooks_enabled": webhooks}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _box(x: float, label: str = "person") -> dict[str, Any]:
    return {"from_name": "label", "to_name": "image", "type": "rectanglelabels", "original_width": 320,
            "original_height": 240, "value": {"x": x, "y": 10.0, "width": 25.0, "height": 50.0, "rotation": 0,
                                              "rectanglelabels": [label]}}


def _wait_for(count: Any, expected: int) -> int:
    """Readiness, not timing: Label Studio delivers each webhook before its API call returns; a bounded number
    of reads covers a slow commit on Loupe's side."""
    seen = count()
    for _ in range(100):
        if seen >= expected:
            break
        time.sleep(0.05)
        seen = count()
    return seen


def test_push_200_annotate_50_in_label_studio_and_the_webhooks_bring_50_versions(
        label_studio: LabelStudioServer, loupe: LiveServer) -> None:
    project, admin, annotator = _project_with_people(200)
    status = _link(project, label_studio, loupe)
    assert status["linked"] and status["webhook_registered"] and status["ls_project_id"]
    link = LabelStudioLink.objects.get(project=project)
    assert label_studio.token not in link.token_encrypted  # stored encrypted

    pushed = as_user("ls-admin").post(f"/api/v1/projects/{project.pk}/labelstudio/push", {"limit": 500},
                                      format="json")
    assert pushed.status_code == 200 and pushed.json() == {"pushed": 200, "already_pushed": 0, "skipped_clips": 0}
    again = as_user("ls-admin").post(f"/api/v1/projects/{project.pk}/labelstudio/push",
                                     {"item_ids": list(ReviewItem.objects.values_list("pk", flat=True))},
                                     format="json")
    assert again.json() == {"pushed": 0, "already_pushed": 200, "skipped_clips": 0}  # never a second task
    assert AuditEvent.objects.filter(action="item.pushed_to_labelstudio", actor=admin).count() == 200

    ls = label_studio.client()
    tasks = list(ls.tasks.list(project=link.ls_project_id, fields="all", page_size=500))
    assert len(tasks) == 200
    assert {t.data["loupe_item"] for t in tasks} == set(ReviewItem.objects.values_list("pk", flat=True))
    first = tasks[0]
    assert first.data["image"].startswith(f"{loupe.url}/api/v1/labelstudio/links/{link.pk}/media/")
    prediction = first.predictions[0]
    prediction = prediction if isinstance(prediction, dict) else prediction.dict()
    # make_items' pre-label [10, 20, 30, 60] px on a 320 x 240 image, in Label Studio's percent.
    assert prediction["result"][0]["value"] | {} == {"x": 3.125, "y": pytest.approx(100 * 20 / 240), "width": 9.375,
                                                     "height": 25.0, "rotation": 0, "rectanglelabels": ["person"]}
    assert prediction["score"] == pytest.approx(0.4)
    assert ReviewItem.objects.filter(status=ItemStatus.LEASED, lease_holder=link.agent).count() == 200

    by_item = {t.data["loupe_item"]: t.id for t in tasks}
    annotated = sorted(by_item)[:50]
    for n, item_id in enumerate(annotated):
        result = [_box(5.0 + n % 10, "bag")] if n % 2 else [{**prediction["result"][0], "id": "pre-0"}]
        ls.annotations.create(id=by_item[item_id], result=result, lead_time=4.5)
    stored = _wait_for(lambda: Annotation.objects.filter(review_item_id__in=annotated).count(), 50)
    assert stored == 50
    versions = Annotation.objects.filter(review_item_id__in=annotated)
    assert {v.author_id for v in versions} == {annotator.pk}  # mapped by e-mail
    assert all("Annotated in Label Studio" in v.note and v.time_spent_seconds for v in versions)
    kept = versions.get(review_item_id=annotated[0])  # the pre-label taken as it was
    # make_items scores its pre-label 0.4, under the project's pre-label threshold: a suggestion, accepted.
    assert kept.diff["suggestions_accepted"] == 1 and kept.diff["added"] == 0
    assert kept.boxes == [{"label": "person", "box": [10.0, 20.0, 30.0, 60.0]}]
    changed = versions.get(review_item_id=annotated[1])
    assert changed.boxes[0]["label"] == "bag" and changed.boxes[0]["box"] == [19.2, 24.0, 80.0, 120.0]
    assert ReviewItem.objects.filter(pk__in=annotated, status=ItemStatus.ACCEPTED).count() == 50
    # Counted toward retraining like any acceptance (the threshold's counter, in the acceptance's transaction).
    assert RetrainState.objects.get(project=project).accepted_since == 50
    assert LabelStudioTask.objects.filter(link=link, state=TaskState.ANNOTATED).count() == 50
    assert LabelStudioVersion.objects.filter(link=link, via="webhook").count() == 50

    # The same delivery again (Label Studio retries, a proxy replays): no second version.
    secret = ls.webhooks.get(id=link.ls_webhook_id).headers["X-Loupe-Link-Secret"]
    annotation = httpx.get(f"{label_studio.url}/api/tasks/{by_item[annotated[1]]}/annotations/", timeout=10,
                           headers={"Authorization": f"Token {label_studio.token}"}).json()[0]
    body = {"action": "ANNOTATION_CREATED", "annotation": annotation}
    redelivered = httpx.post(f"{loupe.url}/api/v1/labelstudio/links/{link.pk}/webhook", json=body,
                             headers={"X-Loupe-Link-Secret": secret}, timeout=10)
    assert redelivered.status_code == 200 and redelivered.json()["outcome"] == "duplicate"
    assert Annotation.objects.filter(review_item_id=annotated[1]).count() == 1

    # An update there is a new version here.
    ls.annotations.update(id=annotation["id"], result=[_box(50.0)])
    assert _wait_for(lambda: Annotation.objects.filter(review_item_id=annotated[1]).count(), 2) == 2
    newest = Annotation.objects.filter(review_item_id=annotated[1]).order_by("-version").first()
    assert newest.boxes[0]["box"] == [160.0, 24.0, 80.0, 120.0] and newest.author_id == annotator.pk
    assert AuditEvent.objects.filter(action="item.version_added", object_id=str(annotated[1])).count() == 1

    # A task deleted there while its item is still out: the item comes back to Loupe's queue with a note.
    waiting = sorted(by_item)[199]
    ls.tasks.delete(id=by_item[waiting])
    assert _wait_for(lambda: ReviewItem.objects.filter(pk=waiting, status=ItemStatus.PENDING).count(), 1) == 1
    item = ReviewItem.objects.get(pk=waiting)
    assert item.lease_holder_id is None and "Deleted in Label Studio" in item.last_comment
    assert LabelStudioTask.objects.get(link=link, item=item).state == TaskState.DELETED

    page = as_user("ls-admin").get(f"/api/v1/projects/{project.pk}/labelstudio").json()
    assert page["tasks"] == {"pushed": 199, "pending": 149, "unconfirmed": 0, "annotated": 50, "deleted": 1}
    assert page["versions"] == {"webhook": 51, "poll": 0} and page["last_error"] is None


def test_with_webhooks_off_the_poll_brings_the_annotations_once(label_studio: LabelStudioServer,
                                                                  loupe: LiveServer) -> None:
    project, _, annotator = _project_with_people(60)
    status = _link(project, label_studio, loupe, webhooks=False)
    assert status["webhooks_enabled"] is False and status["webhook_registered"] is False
    link = LabelStudioLink.objects.get(project=project)
    assert as_user("ls-admin").post(f"/api/v1/projects/{project.pk}/labelstudio/push", {},
                                    format="json").json()["pushed"] == 60
    ls = label_studio.client()
    tasks = list(ls.tasks.list(project=link.ls_project_id, fields="task_only", page_size=100))
    for task in tasks[:50]:
        ls.annotations.create(id=task.id, result=[_box(20.0, "bag")])
    assert Annotation.objects.count() == 0  # nothing pushed to Loupe: no webhook

    answer = as_user("ls-admin").post(f"/api/v1/projects/{project.pk}/labelstudio/sync")
    assert answer.status_code == 200 and answer.json()["received"] == 50
    assert Annotation.objects.count() == 50 and set(Annotation.objects.values_list("author", flat=True)) == {
        annotator.pk}
    assert LabelStudioVersion.objects.filter(link=link, via="poll").count() == 50
    # The next round overlaps the cursor and finds nothing new.
    link.refresh_from_db()
    assert sync(link, force=True)["received"] == 0 and Annotation.objects.count() == 50
    assert link.poll_cursor is not None and link.last_sync_at is not None

    # No webhook brings TASKS_DELETED either: the sync finds a waiting task gone and gives its item back.
    waiting = LabelStudioTask.objects.filter(link=link, state=TaskState.PUSHED).order_by("pk").first()
    ls.tasks.delete(id=waiting.ls_task_id)
    assert sync(link, force=True)["returned"] == 1
    item = ReviewItem.objects.get(pk=waiting.item_id)
    assert item.status == ItemStatus.PENDING and "Deleted in Label Studio" in item.last_comment
    assert LabelStudioTask.objects.filter(link=link, state=TaskState.PUSHED).count() == 9


def test_the_same_annotation_delivered_at_once_by_eight_connections_is_one_version(loupe: LiveServer,
                                                                                   _media_root: Any) -> None:
    """Label Studio's retry, a replaying proxy and the poll can deliver one annotation at the same moment: two
    real server processes race on the (link, annotation, updated_at) key and exactly one stores a version."""
    project, _, annotator = _project_with_people(1)
    item = ReviewItem.objects.get(project=project)
    agent = add_member(project, "labelstudio-agent", Role.ANNOTATOR)
    link = LabelStudioLink.objects.create(
        project=project, url="http://127.0.0.1:9", token_encrypted=seal("t"), ls_project_id=1,
        loupe_url=loupe.url, webhook_secret_hash=secret_hash("s3cret"), agent=agent)
    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.LEASED, lease_holder=agent, lease_token="ls-t",
                                                 lease_expires_at=timezone.now() + timedelta(days=1))
    LabelStudioTask.objects.create(link=link, item=item, ls_task_id=77, state=TaskState.PUSHED)
    body = {"action": "ANNOTATION_CREATED", "annotation": {
        "id": 5, "task": 77, "updated_at": "2026-12-03T12:00:00.000001Z", "result": [_box(10.0)],
        "completed_by": {"id": 2, "email": annotator.email}}}
    barrier = threading.Barrier(8)

    def deliver(server: LiveServer) -> str:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            answer = client.post(f"{server.url}/api/v1/labelstudio/links/{link.pk}/webhook", json=body,
                                 headers={"X-Loupe-Link-Secret": "s3cret"})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["outcome"])

    with LiveServer(_media_root) as second, ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(deliver, [loupe, second] * 4))
    assert outcomes == ["created"] + ["duplicate"] * 7
    assert Annotation.objects.filter(review_item_id=item.pk).count() == 1
    assert LabelStudioVersion.objects.filter(link=link).count() == 1
