"""The Label Studio link's edges, without a Label Studio server (also on SQLite, tests/test_sqlite_mode.py): the
webhook's secret, bad deliveries (unknown task, a label the project lacks, malformed bodies), re-delivery, a
task deleted there, a Label Studio that is down (the link records it and backs off; Loupe's queue goes on), the
signed media links, and who may see or change the link."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.test import APIClient

from activelearning.labelstudio.media import media_url
from activelearning.labelstudio.models import LabelStudioLink, LabelStudioTask, LabelStudioVersion, TaskState
from activelearning.labelstudio.services import LabelStudioUnavailable, secret_hash, sync, sync_due
from activelearning.labelstudio.tokens import seal
from annotations.models import Annotation, Asset, AuditEvent, Membership, Role
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import add_member, as_user, jpeg_bytes, make_items, make_project
from tests.server import free_port

pytestmark = pytest.mark.django_db

SECRET = "the-link-secret"


@pytest.fixture
def link(settings: Any) -> LabelStudioLink:
    """A link to a Label Studio that is not running (a closed port), two of three items out there."""
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    project = make_project("ls-edges", classes=("person", "bag"))
    items = make_items(project, 3)
    add_member(project, "admin", Role.ADMIN)
    add_member(project, "ann", Role.ANNOTATOR)
    agent = User.objects.create(username=f"labelstudio-p{project.pk}")
    Membership.objects.create(project=project, user=agent, role=Role.ANNOTATOR)
    link = LabelStudioLink.objects.create(
        project=project, url=f"http://127.0.0.1:{free_port()}", token_encrypted=seal("ls-token"), ls_project_id=9,
        loupe_url="http://loupe.example", webhook_secret_hash=secret_hash(SECRET), agent=agent)
    until = timezone.now() + timedelta(days=30)
    for n, item in enumerate(items[:2]):
        ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.LEASED, lease_holder=agent,
                                                     lease_token=f"ls{link.pk}-t", lease_expires_at=until)
        LabelStudioTask.objects.create(link=link, item=item, ls_task_id=101 + n, state=TaskState.PUSHED)
    return link


def deliver(link_id: int, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None) -> Any:
    headers = {"HTTP_X_LOUPE_LINK_SECRET": secret} if secret is not None else {}
    url = f"/api/v1/labelstudio/links/{link_id}/webhook"
    if raw is not None:
        return APIClient().generic("POST", url, raw, content_type="application/json", **headers)
    return APIClient().post(url, body, format="json", **headers)


def annotation(task: int = 101, *, label: str = "person", ann_id: int = 7, updated: str = "2026-12-03T10:00:00.5Z",
               completed_by: Any = None) -> dict[str, Any]:
    return {"action": "ANNOTATION_CREATED", "annotation": {
        "id": ann_id, "task": task, "updated_at": updated, "was_cancelled": False, "lead_time": 3.0,
        "completed_by": completed_by if completed_by is not None else {"id": 3, "email": "ann@example.com"},
        "result": [{"id": "x1", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                    "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": [label]}}]}}


def nothing_stored() -> bool:
    return not Annotation.objects.exists() and not LabelStudioVersion.objects.exists()


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_a_webhook_without_the_right_secret_is_401_and_stores_nothing(link, secret):
    response = deliver(link.pk, annotation(), secret=secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_link_secret"
    assert nothing_stored()


def test_a_webhook_for_a_link_that_does_not_exist_is_401_not_404(link):
    assert deliver(link.pk + 1000, annotation()).status_code == 401  # no telling which links exist


def test_an_annotation_for_an_unknown_task_is_404_and_stores_nothing(link):
    response = deliver(link.pk, annotation(task=999))
    assert response.status_code == 404
    assert response.json()["error"] | {"message": None} == {
        "code": "unknown_task", "message": None, "details": {"task": 999}}
    assert nothing_stored()


def test_a_label_the_project_lacks_is_refused_naming_it(link):
    response = deliver(link.pk, annotation(label="dog"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert "'dog'" in error["message"]
    assert error["details"]["label"] == "dog" and error["details"]["allowed"] == ["person", "bag"]
    assert error["details"]["task"] == 101 and error["details"]["field"] == "value.rectanglelabels"
    assert nothing_stored()
    assert ReviewItem.objects.get(pk=LabelStudioTask.objects.get(ls_task_id=101).item_id).status == "leased"


@pytest.mark.parametrize("body", [[], {"annotation": {}}, {"action": 3},
                                  {"action": "ANNOTATION_CREATED"},
                                  {"action": "ANNOTATION_CREATED", "annotation": {"id": 1, "task": 101}},
                                  {"action": "ANNOTATION_CREATED", "annotation": {
                                      "id": 1, "task": 101, "updated_at": "yesterday"}},
                                  {"action": "TASKS_DELETED", "tasks": [{"id": "101"}]},
                                  {"action": "TASKS_DELETED", "tasks": "all"}])
def test_malformed_deliveries_are_400_and_store_nothing(link, body):
    response = deliver(link.pk, body)
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert nothing_stored()


def test_malformed_json_is_400(link):
    response = deliver(link.pk, None, raw=b'{"action": "ANNOTATION_CREATED", ')
    assert response.status_code == 400 and nothing_stored()


def test_an_action_loupe_does_not_use_is_acknowledged_and_ignored(link):
    response = deliver(link.pk, {"action": "PROJECT_UPDATED", "project": {"id": 9}})
    assert response.status_code == 200 and response.json() == {"action": "PROJECT_UPDATED", "outcome": "ignored"}


def test_an_annotation_becomes_the_items_version_once_however_often_it_is_delivered(link):
    ann = add_member(link.project, "ann2", Role.ANNOTATOR)
    ann.email = "ann@example.com"
    ann.save(update_fields=["email"])
    assert deliver(link.pk, annotation()).json() == {"action": "ANNOTATION_CREATED", "outcome": "created"}
    for _ in range(2):
        assert deliver(link.pk, annotation()).json()["outcome"] == "duplicate"
    item = ReviewItem.objects.get(pk=LabelStudioTask.objects.get(ls_task_id=101).item_id)
    version = Annotation.objects.get(review_item_id=item.pk)
    assert version.author == ann and version.boxes == [{"label": "person", "box": [32.0, 24.0, 64.0, 48.0]}]
    assert item.status != ItemStatus.LEASED and item.lease_holder_id is None
    # An update there (a later updated_at) is a new version; the same update again is not.
    for _ in range(2):
        deliver(link.pk, annotation(updated="2026-12-03T10:05:00Z", label="bag"))
    assert list(Annotation.objects.filter(review_item_id=item.pk).order_by("version")
                .values_list("boxes__0__label", flat=True)) == ["person", "bag"]


def test_an_annotator_unknown_to_loupe_is_recorded_in_the_note_and_the_agent_is_the_author(link):
    # completed_by as a bare id: Label Studio is asked for the e-mail, but it is down; the id is kept.
    deliver(link.pk, annotation(completed_by=42))
    version = Annotation.objects.get()
    assert version.author == link.agent and "Label Studio user #42" in version.note


def test_a_cancelled_annotation_stores_nothing(link):
    body = annotation()
    body["annotation"]["was_cancelled"] = True
    assert deliver(link.pk, body).json()["outcome"] == "cancelled" and nothing_stored()


def test_a_task_deleted_there_gives_its_item_back_to_the_queue_with_a_note(link):
    response = deliver(link.pk, {"action": "TASKS_DELETED", "tasks": [{"id": 102}, {"id": 555}]})
    assert response.json() == {"action": "TASKS_DELETED", "returned": 1}
    row = LabelStudioTask.objects.get(ls_task_id=102)
    item = ReviewItem.objects.get(pk=row.item_id)
    assert row.state == TaskState.DELETED and item.status == ItemStatus.PENDING and item.lease_holder_id is None
    assert item.last_comment == "Deleted in Label Studio (task 102); back in Loupe's queue."
    assert AuditEvent.objects.filter(action="item.returned", object_id=str(item.pk)).exists()
    claimed = as_user("ann").post(f"/api/v1/projects/{link.project_id}/queue/claim", {}, format="json")
    assert claimed.status_code == 200 and claimed.json()["id"] in {item.pk, *ReviewItem.objects.filter(
        status="leased", lease_holder__username="ann").values_list("pk", flat=True)}


def test_a_label_studio_that_is_down_is_recorded_backed_off_and_loupes_queue_goes_on(link, settings):
    settings.LOUPE_LABELSTUDIO_BACKOFF_SECONDS = 30.0
    with pytest.raises(LabelStudioUnavailable):
        sync(link)
    link.refresh_from_db()
    assert link.failures == 1 and "could not be reached" in link.last_error
    assert timedelta(seconds=25) < link.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    assert sync(link)["skipped"] == "backing off"  # beat's next round leaves it alone
    assert sync_due() == {"synced": 0, "failed": 0}
    answer = as_user("admin").post(f"/api/v1/projects/{link.project_id}/labelstudio/sync")  # "now" tries anyway
    assert answer.status_code == 502 and answer.json()["error"]["code"] == "labelstudio_unavailable"
    link.refresh_from_db()
    assert link.failures == 2 and timedelta(seconds=55) < link.next_attempt_at - timezone.now()
    status = as_user("admin").get(f"/api/v1/projects/{link.project_id}/labelstudio").json()
    assert status["failures"] == 2 and "could not be reached" in status["last_error"]
    # Loupe's own annotators go on with what was not pushed.
    claimed = as_user("ann").post(f"/api/v1/projects/{link.project_id}/queue/claim", {}, format="json")
    assert claimed.status_code == 200
    assert claimed.json()["id"] not in set(LabelStudioTask.objects.values_list("item_id", flat=True))


def test_linking_to_a_host_not_allowed_or_down_stores_nothing(link, settings):
    project = make_project("ls-new")
    add_member(project, "admin2", Role.ADMIN)
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = []
    body = {"url": "http://127.0.0.1:9", "token": "t", "loupe_url": "http://loupe.example"}
    refused = as_user("admin2").put(f"/api/v1/projects/{project.pk}/labelstudio", body, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "url_not_allowed"
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    down = as_user("admin2").put(f"/api/v1/projects/{project.pk}/labelstudio",
                                 {**body, "url": f"http://127.0.0.1:{free_port()}"}, format="json")
    assert down.status_code == 502 and down.json()["error"]["code"] == "labelstudio_unavailable"
    assert not LabelStudioLink.objects.filter(project=project).exists()
    ftp = as_user("admin2").put(f"/api/v1/projects/{project.pk}/labelstudio",
                                {**body, "url": "http://127.0.0.1:9", "loupe_url": "ftp://loupe.example"}, format="json")
    assert ftp.status_code == 400 and ftp.json()["error"]["details"] == {
        "loupe_url": ["Must be the http(s) address Label Studio reaches Loupe at."]}
    bad = as_user("admin2").put(f"/api/v1/projects/{project.pk}/labelstudio", {"url": "not a url"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["error"]["details"]) >= {"url", "token"}


def test_only_the_projects_admins_see_or_change_the_link(link):
    add_member(link.project, "rev", Role.REVIEWER)
    make_project("elsewhere")
    path = f"/api/v1/projects/{link.project_id}/labelstudio"
    assert as_user("admin").get(path).json()["tasks"]["pending"] == 2
    assert as_user("rev").get(path).status_code == 403
    assert as_user("rev").post(f"{path}/push", {}, format="json").status_code == 403
    assert APIClient().get(path).status_code in (401, 403)
    outsider = User.objects.create_user("outsider", password="pw-123456")
    assert as_user(outsider.username).get(path).status_code == 404
    assert as_user("admin").delete(path).status_code == 204  # unlink: the items out there come back
    assert ReviewItem.objects.filter(project=link.project, status="pending").count() == 3
    assert as_user("admin").get(path).json() == {"linked": False}


def test_a_signed_media_link_opens_its_one_image_until_it_expires(link):
    body = jpeg_bytes(seed=5)
    sha = hashlib.sha256(body).hexdigest()
    asset = Asset.objects.get(pk=ReviewItem.objects.filter(project=link.project).first().asset_id)
    Asset.objects.filter(pk=asset.pk).update(sha256=sha)
    asset.refresh_from_db()
    asset.file.save(f"{sha}.jpg", ContentFile(body), save=True)
    url = media_url(link, sha, expires=int(timezone.now().timestamp()) + 60)
    path = url.removeprefix("http://loupe.example")
    opened = APIClient().get(path)
    assert opened.status_code == 200 and b"".join(opened.streaming_content) == body
    other = make_items(link.project, 1)[0].asset.sha256
    for bad in (path.replace(sha, other, 1), path[:-3] + "abc", path.split("?")[0],
                media_url(link, sha, expires=int(timezone.now().timestamp()) - 1).removeprefix("http://loupe.example"),
                path.replace(f"links/{link.pk}/", f"links/{link.pk + 1}/")):
        refused = APIClient().get(bad)
        assert refused.status_code == 403, bad
        assert refused.json()["error"]["code"] in {"bad_link", "link_expired"}
