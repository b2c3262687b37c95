"""An annotator signs in through the form, claims an item with a model pre-label, drags the pre-label box to
where the person is, adds a second box with the keyboard, submits, and the database holds exactly that
annotation version, in image pixels. The pre-label scores 0.41, below the project's threshold (0.5): a dashed
suggestion, which counts once the person edits it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.models import Annotation
from loupe_synthetic.scenes import encode_jpeg, render_scene
from reviewer.models import ItemStatus
from tests.e2e.helpers import add_browser_member, fitted_transform, post_events, queued_item, sign_in, upload
from tests.factories import make_device_kit, make_project, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE_W, IMAGE_H = 640, 480
SCENE_SEED = 2  # a synthetic store with two people; person 2 stands at (343, 94, 93, 216)
DRAG_IMAGE = (120.0, 30.0)  # how far the annotator drags the pre-label to cover person 2, in image pixels
NUDGE_FAST = 10  # Shift+→ in commands.ts


def test_annotator_drags_a_prelabel_adds_a_box_by_keyboard_and_submits(page, app_server, make_user, screenshot):
    project = make_project("shop-floor", classes=("person", "bag"))
    project.qa_sample_rate = 0.0
    project.save(update_fields=["qa_sample_rate"])
    kit = make_device_kit(project)
    scene = render_scene("store", SCENE_SEED, width=IMAGE_W, height=IMAGE_H, crowd=2)
    person = scene.boxes[1].box
    prelabel = [person[0] - DRAG_IMAGE[0], person[1] - DRAG_IMAGE[1], person[2], person[3]]  # the model is off
    sha = upload(app_server.url, kit, encode_jpeg(scene.image))
    event = prediction_event("frame-1", sha, score=0.41)
    event["detections"] = [{"label": "person", "score": 0.41, "box": prelabel, "track_id": 1}]
    item = queued_item(post_events(app_server.url, kit, [event])[0])
    password = add_browser_member(make_user, project, "alice", "annotator")

    page.goto("/")
    expect(page.get_by_test_id("login-username")).to_be_visible()
    screenshot(page, "login")
    sign_in(page, "alice", password)
    expect(page.get_by_test_id(f"project-role-{project.pk}")).to_have_text("annotator")
    screenshot(page, "home")

    page.get_by_test_id(f"project-link-{project.pk}").click()
    expect(page.get_by_test_id("stat-pending")).to_have_text("1")
    expect(page.get_by_test_id("ws-status")).to_have_text("Live")
    screenshot(page, "queue-dashboard")
    page.get_by_test_id("start-work").click()
    page.get_by_test_id("claim-button").click()

    box_list = page.get_by_test_id("box-list").locator("li")
    expect(box_list).to_have_count(1)
    expect(page.get_by_test_id("item-reason")).to_contain_text("low_confidence")
    view = fitted_transform(page, "editor-canvas", IMAGE_W, IMAGE_H)
    screenshot(page, "box-editor")

    # Drag the pre-label by its middle (a real pointer drag on the canvas, in several moves).
    x, y, w, h = prelabel
    start = view.to_screen(x + w / 2, y + h / 2)
    end = view.to_screen(x + w / 2 + DRAG_IMAGE[0], y + h / 2 + DRAG_IMAGE[1])
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=12)
    page.mouse.up()
    expect(page.get_by_test_id("selection-status")).to_contain_text("person")

    # A second box from the keyboard: b adds one in the middle of the view, Shift+→ moves it 10 px, 2 = "bag".
    canvas = page.get_by_test_id("editor-canvas")
    canvas.focus()
    page.keyboard.press("b")
    expect(box_list).to_have_count(2)
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("2")
    expect(page.get_by_test_id("selection-status")).to_contain_text("bag")
    page.keyboard.press("s")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    annotation = Annotation.objects.get(review_item_id=item.pk)
    assert annotation.version == 1 and annotation.author.username == "alice"
    item.refresh_from_db()
    assert item.status == ItemStatus.ACCEPTED
    moved, bag = sorted(annotation.boxes, key=lambda b: b["label"] != "person")
    assert moved["label"] == "person" and bag["label"] == "bag" and len(annotation.boxes) == 2
    assert moved["box"] == pytest.approx(list(person), abs=1.5), moved  # the drag put it on the person
    side = min(IMAGE_W, IMAGE_H) / 5  # state.ts add_box: a fifth of the image, centred in the fitted view
    expected_bag = [IMAGE_W / 2 - side / 2 + NUDGE_FAST, IMAGE_H / 2 - side / 2, side, side]
    assert bag["box"] == pytest.approx(expected_bag, abs=1.0), bag
    # Against the pre-label: the dragged suggestion was accepted (it carries its pre-label index, however far it
    # went), and the bag is new. Nothing was deleted or left behind.
    keys = ("added", "suggestions_accepted", "suggestions_left", "kept", "moved", "deleted")
    assert {k: annotation.diff[k] for k in keys} == {
        "added": 1, "suggestions_accepted": 1, "suggestions_left": 0, "kept": 0, "moved": 0, "deleted": 0}
