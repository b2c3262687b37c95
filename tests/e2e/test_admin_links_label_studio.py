"""An admin links a project to a real Label Studio server from the browser: from the Models page to the Label
Studio page, a wrong token is refused with Label Studio's word and nothing is stored (in Loupe or there); the
right one links (a Label Studio project of the project's classes, its webhook registered). Pushing sends the
highest-priority items as tasks and the status counts them; three are annotated in Label Studio, their webhooks
bring three versions (by the annotator whose e-mail matches), "Sync now" finds nothing more, and the page counts
three annotated. Unlinking, after a confirmation, gives the items still out there back to Loupe's queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from activelearning.labelstudio.models import LabelStudioLink, LabelStudioTask, LabelStudioVersion, TaskState
from annotations.models import Annotation, AuditEvent, Role
from reviewer.models import ItemStatus, ReviewItem
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import add_member, make_items, make_project
from tests.labelstudio_server import LabelStudioServer
from tests.server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def app_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """This module's own server (the `context` fixture opens it): Loupe calls only allowed hosts, and the test's
    Label Studio listens on loopback. The other tests keep the shared server, which calls nothing there."""
    return start_server(LOUPE_OUTBOUND_ALLOWED_HOSTS="127.0.0.1")


def box(x: float, label: str) -> dict[str, Any]:
    """A Label Studio rectangle on a 320 × 240 image, in its percent."""
    return {"from_name": "label", "to_name": "image", "type": "rectanglelabels", "original_width": 320,
            "original_height": 240, "value": {"x": x, "y": 10.0, "width": 25.0, "height": 50.0, "rotation": 0,
                                              "rectanglelabels": [label]}}


def wait_for(count: Callable[[], int], expected: int) -> int:
    """Readiness, not timing: Label Studio sends each webhook as it stores the annotation; a bounded number of
    reads covers Loupe's commit."""
    seen = count()
    for _ in range(200):
        if seen >= expected:
            break
        time.sleep(0.05)
        seen = count()
    return seen


def test_admin_links_label_studio_pushes_items_and_sees_annotations_come_back(
        page, make_user, screenshot, label_studio: LabelStudioServer) -> None:
    project = make_project("ls-journey", classes=("person", "bag"))
    project.qa_sample_rate = 0.0
    project.save(update_fields=["qa_sample_rate"])
    items = make_items(project, 12)  # priorities fall with the index: the first ten are pushed
    annotator = add_member(project, "ls-ann", Role.ANNOTATOR)
    annotator.email = label_studio.email
    annotator.save(update_fields=["email"])
    password = add_browser_member(make_user, project, "dana", "admin")
    ls = label_studio.client()
    projects_there = len(list(ls.projects.list()))

    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/models")
    page.get_by_test_id("models-labelstudio-link").click()
    expect(page.get_by_role("heading", name="Label Studio", exact=True)).to_be_visible()
    expect(page.get_by_test_id("ls-token")).to_have_attribute("type", "password")

    # A wrong token: Label Studio's refusal beside the field; nothing stored here or there.
    page.get_by_test_id("ls-url").fill(label_studio.url)
    page.get_by_test_id("ls-token").fill("not-the-token-0000000000000000000000000")
    page.get_by_test_id("ls-link").click()
    expect(page.get_by_test_id("ls-token-error")).to_contain_text("Label Studio refused the token.",
                                                                   timeout=30_000)
    expect(page.get_by_test_id("ls-token")).to_be_focused()
    screenshot(page, "labelstudio-token-refused")
    assert not LabelStudioLink.objects.filter(project=project).exists()
    assert not AuditEvent.objects.filter(action="labelstudio.linked").exists()
    assert len(list(ls.projects.list())) == projects_there

    # The right one links: a new Label Studio project, webhook registered.
    page.get_by_test_id("ls-token").fill(label_studio.token)
    page.get_by_test_id("ls-link").click()
    expect(page.get_by_test_id("ls-status")).to_be_visible(timeout=30_000)
    link = LabelStudioLink.objects.get(project=project)
    expect(page.get_by_test_id("ls-notice")).to_have_text(
        f"Linked to Label Studio project {link.ls_project_id}. Push items below to send them there.")
    expect(page.get_by_test_id("ls-project-link")).to_have_attribute(
        "href", f"{label_studio.url}/projects/{link.ls_project_id}/data")
    expect(page.get_by_test_id("ls-webhook-state")).to_contain_text("registered")
    expect(page.get_by_test_id("ls-tasks-pushed")).to_have_text("0")
    assert label_studio.token not in link.token_encrypted and link.ls_webhook_id is not None
    expect(page.get_by_test_id("ls-token")).to_have_value("")  # the relink form's: the token is never shown back
    assert AuditEvent.objects.filter(action="labelstudio.linked", actor__username="dana",
                                     object_id=str(link.pk)).count() == 1

    # Push the ten highest-priority items with the queue's reason.
    page.get_by_test_id("ls-push-reasons").select_option(["low_confidence"])
    page.get_by_test_id("ls-push-limit").fill("10")
    page.get_by_test_id("ls-push").click()
    expect(page.get_by_test_id("ls-push-result")).to_have_text(
        "Pushed 10 items as Label Studio tasks; 0 already there.", timeout=30_000)
    expect(page.get_by_test_id("ls-tasks-pushed")).to_have_text("10")
    expect(page.get_by_test_id("ls-tasks-pending")).to_have_text("10")
    expect(page.get_by_test_id("ls-tasks-annotated")).to_have_text("0")
    pushed = [i.pk for i in items[:10]]
    assert set(LabelStudioTask.objects.filter(link=link, state=TaskState.PUSHED).values_list("item_id", flat=True)) \
        == set(pushed)
    assert ReviewItem.objects.filter(pk__in=pushed, status=ItemStatus.LEASED, lease_holder=link.agent).count() == 10
    assert ReviewItem.objects.filter(pk__in=[i.pk for i in items[10:]], status=ItemStatus.PENDING).count() == 2

    # Three tasks annotated in Label Studio: their webhooks bring three versions.
    tasks = {t.data["loupe_item"]: t.id for t in ls.tasks.list(project=link.ls_project_id, fields="all")}
    assert set(tasks) == set(pushed)
    annotated = pushed[:3]
    for n, item_id in enumerate(annotated):
        ls.annotations.create(id=tasks[item_id], result=[box(10.0 * (n + 1), "bag")], lead_time=3.0)
    assert wait_for(lambda: Annotation.objects.filter(review_item_id__in=annotated).count(), 3) == 3

    page.get_by_test_id("ls-sync").click()
    expect(page.get_by_test_id("ls-sync-result")).to_have_text("Synced with Label Studio: 0 new versions received.",
                                                               timeout=30_000)
    expect(page.get_by_test_id("ls-tasks-annotated")).to_have_text("3")
    expect(page.get_by_test_id("ls-tasks-pending")).to_have_text("7")
    expect(page.get_by_test_id("ls-versions-webhook")).to_have_text("3")
    expect(page.get_by_test_id("ls-versions-poll")).to_have_text("0")
    expect(page.get_by_test_id("ls-last-sync")).not_to_have_text("never")
    expect(page.get_by_test_id("ls-failing")).to_have_count(0)
    screenshot(page, "labelstudio-status")
    page.reload()
    expect(page.get_by_test_id("ls-tasks-annotated")).to_have_text("3")

    versions = Annotation.objects.filter(review_item_id__in=annotated)
    assert versions.count() == 3 and {v.author_id for v in versions} == {annotator.pk}
    assert versions.get(review_item_id=annotated[1]).boxes == [{"label": "bag", "box": [64.0, 24.0, 80.0, 120.0]}]
    assert all("Annotated in Label Studio" in v.note for v in versions)
    assert ReviewItem.objects.filter(pk__in=annotated, status=ItemStatus.ACCEPTED).count() == 3
    states = dict(LabelStudioTask.objects.filter(link=link).values_list("item_id", "state"))
    assert {i for i, s in states.items() if s == TaskState.ANNOTATED} == set(annotated)
    assert {i for i, s in states.items() if s == TaskState.PUSHED} == set(pushed[3:])
    assert LabelStudioVersion.objects.filter(link=link, via="webhook").count() == 3

    # Unlink, after a confirmation: the seven still out there come back to Loupe's queue.
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_test_id("ls-unlink").click()
    expect(page.get_by_test_id("ls-link-form")).to_be_visible(timeout=30_000)
    assert "The 7 items still in Label Studio come back to Loupe's queue" in questions[0]
    expect(page.get_by_test_id("ls-notice")).to_contain_text("back in Loupe's queue")
    assert not LabelStudioLink.objects.filter(project=project).exists()
    assert ReviewItem.objects.filter(pk__in=pushed[3:], status=ItemStatus.PENDING, lease_holder=None).count() == 7
    assert AuditEvent.objects.filter(action="labelstudio.unlinked", actor__username="dana").count() == 1
