"""Face blurring in served media (Project.blur_faces): members see blurred stills, frames and thumbnails;
admins of a blurring project may ask for the original (`?original=1`), which is audited every time.

Cast: annotator alice and reviewer bob in the blurring project, admin ada, outsider charlie.
"""

from __future__ import annotations

import hashlib
from typing import Any

import cv2
import numpy as np
import pytest
from django.contrib.auth.models import User

from annotations import privacy
from annotations.models import AuditEvent, Project
from loupe_synthetic.scenes import encode_mp4, render_scene
from tests.faces import encode_jpeg, scene_with_face
from tests.factories import add_member, as_user, make_device_kit, make_project, prediction_event

PATHS = ("", "/frames/0.jpg", "/thumb.jpg")


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def pixels(response: Any) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(body_of(response), dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image.astype(np.int16)


def region(image: np.ndarray, box: tuple[int, int, int, int], scale: float = 1.0) -> np.ndarray:
    x, y, w, h = (round(v * scale) for v in box)
    return image[y:y + h, x:x + w].astype(np.int16)


def upload(project: Project, body: bytes, content_type: str, *, site: str = "Main St", event_id: str = "e1",
           **event: Any) -> str:
    kit = make_device_kit(project, site=site)
    assert kit.put_media(body, content_type=content_type).status_code in (200, 201)
    sha = hashlib.sha256(body).hexdigest()
    assert kit.post_events([prediction_event(event_id, sha, **event)]).json()["results"][0]["status"] == "created"
    return sha


def blurring_project(blur: bool = True) -> Project:
    project = make_project()
    project.blur_faces = blur
    project.save(update_fields=["blur_faces"])
    add_member(project, "alice", "annotator")
    add_member(project, "bob", "reviewer")
    add_member(project, "ada", "admin")
    add_member(make_project("bus-boarding"), "charlie", "admin")
    return project


def originals_viewed() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="asset.original_viewed").order_by("pk"))


@pytest.mark.django_db
def test_members_see_the_face_blurred_in_the_still_its_frame_and_its_thumbnail(postgres):
    scene = scene_with_face(96)
    body = encode_jpeg(scene.image)
    sha = upload(blurring_project(), body, "image/jpeg")
    original = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
    alice = as_user("alice")
    for path in ("", "/frames/0.jpg"):
        response = alice.get(f"/api/v1/assets/{sha}{path}")
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        served = pixels(response)
        assert np.abs(region(served, scene.face) - region(original, scene.face)).mean() > 12
        assert np.abs(region(served, scene.far) - region(original, scene.far)).mean() < 1.5  # JPEG again
        assert privacy.detect_faces(served.astype(np.uint8)) == []
    thumb = pixels(alice.get(f"/api/v1/assets/{sha}/thumb.jpg"))
    assert thumb.shape == (180, 320, 3)
    small = cv2.resize(original.astype(np.uint8), (320, 180), interpolation=cv2.INTER_AREA).astype(np.int16)
    assert np.abs(region(thumb, scene.face, 0.5) - region(small, scene.face, 0.5)).mean() > 12
    assert np.abs(region(thumb, scene.far, 0.5) - region(small, scene.far, 0.5)).mean() < 2
    assert originals_viewed() == []


@pytest.mark.django_db
def test_the_blurred_variant_has_its_own_etag_so_a_browser_revalidating_the_original_gets_it(postgres):
    project = blurring_project(blur=False)
    sha = upload(project, encode_jpeg(scene_with_face().image), "image/jpeg")
    alice = as_user("alice")
    before = {path: alice.get(f"/api/v1/assets/{sha}{path}")["ETag"] for path in PATHS}
    project.blur_faces = True
    project.save(update_fields=["blur_faces"])
    for path in PATHS:
        response = alice.get(f"/api/v1/assets/{sha}{path}", HTTP_IF_NONE_MATCH=before[path])
        assert response.status_code == 200 and response["ETag"] != before[path]
        assert response["Cache-Control"] == "private, no-cache"
        again = alice.get(f"/api/v1/assets/{sha}{path}", HTTP_IF_NONE_MATCH=response["ETag"])
        assert again.status_code == 304


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["alice", "bob"])
def test_a_member_who_is_not_admin_asking_for_the_original_gets_403_and_no_audit(postgres, username):
    sha = upload(blurring_project(), encode_jpeg(scene_with_face().image), "image/jpeg")
    for path in PATHS:
        response = as_user(username).get(f"/api/v1/assets/{sha}{path}?original=1")
        assert response.status_code == 403 and response.json()["error"]["code"] == "original_forbidden"
    assert originals_viewed() == []


@pytest.mark.django_db
def test_an_admin_gets_the_exact_original_never_stored_and_each_view_is_audited(postgres, _media_root):
    scene = scene_with_face()
    body = encode_jpeg(scene.image)
    project = blurring_project()
    sha = upload(project, body, "image/jpeg")
    ada = as_user("ada")
    for _ in range(2):
        for path in PATHS:
            response = ada.get(f"/api/v1/assets/{sha}{path}?original=1")
            assert response.status_code == 200
            assert response["Cache-Control"] == "private, no-store" and not response.has_header("ETag")
            if path != "/thumb.jpg":
                assert body_of(response) == body  # frame 0 of a JPEG is its own bytes
            else:
                assert body_of(response) == (_media_root / "frames" / sha / "thumb.jpg").read_bytes()
    events = originals_viewed()
    assert len(events) == 6
    ada_id = User.objects.get(username="ada").pk
    assert {(e.actor_id, e.project_id, e.object_type, e.object_id) for e in events} == {
        (ada_id, project.pk, "asset", sha)}
    assert [(e.after["view"], e.after["frame"]) for e in events] == [
        ("asset", None), ("frame", 0), ("thumb", 0)] * 2
    blurred = ada.get(f"/api/v1/assets/{sha}")  # without the parameter an admin sees what members see
    assert body_of(blurred) != body and len(originals_viewed()) == 6


@pytest.mark.django_db
def test_a_project_without_blur_faces_serves_originals_unchanged_and_audits_nothing(postgres):
    body = encode_jpeg(scene_with_face().image)
    sha = upload(blurring_project(blur=False), body, "image/jpeg")
    for username in ("alice", "ada"):
        for query in ("", "?original=1", "?original=0"):
            response = as_user(username).get(f"/api/v1/assets/{sha}{query}")
            assert response.status_code == 200 and body_of(response) == body
            assert response["ETag"] == f'"{sha}"'
    assert originals_viewed() == []


@pytest.mark.django_db
def test_a_clip_frame_is_blurred_and_the_clip_file_is_for_admins_only(postgres):
    scene = scene_with_face(96)
    frames = [np.roll(scene.image, shift, axis=1) for shift in (0, 2, 4)]  # a slow pan keeps the face whole
    body = encode_mp4(frames, fps=5.0)
    sha = upload(blurring_project(), body, "video/mp4")
    alice = as_user("alice")
    served = pixels(alice.get(f"/api/v1/assets/{sha}/frames/2.jpg"))
    ada = as_user("ada")
    original = pixels(ada.get(f"/api/v1/assets/{sha}/frames/2.jpg?original=1"))
    face = (scene.face[0] + 4, *scene.face[1:])
    assert np.abs(region(served, face) - region(original, face)).mean() > 12
    assert np.abs(region(served, scene.far) - region(original, scene.far)).mean() < 1.5
    refused = alice.get(f"/api/v1/assets/{sha}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "clip_blurred"
    assert body_of(ada.get(f"/api/v1/assets/{sha}?original=1")) == body
    assert [(e.after["view"], e.after["frame"]) for e in originals_viewed()] == [("frame", 2), ("asset", None)]


@pytest.mark.django_db
def test_people_the_model_boxed_have_their_heads_blurred_and_a_new_box_gives_a_new_variant(postgres):
    frame = render_scene("store", 11, crowd=4, lighting="normal")
    detections = [{"label": "person", "score": 0.4, "box": [round(v, 1) for v in gt.box]} for gt in frame.boxes]
    project = blurring_project()
    body = encode_jpeg(frame.image)
    sha = upload(project, body, "image/jpeg", detections=detections[:1])
    alice = as_user("alice")
    first = alice.get(f"/api/v1/assets/{sha}/frames/0.jpg")
    original = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
    served = pixels(first)
    [head] = privacy.head_boxes([detections[0]["box"]])
    assert np.abs(region(served, head) - region(original, head)).mean() > 3
    upload(project, body, "image/jpeg", site="Depot", event_id="e2", detections=detections[1:])
    second = alice.get(f"/api/v1/assets/{sha}/frames/0.jpg", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second["ETag"] != first["ETag"]
    served = pixels(second)
    for head in privacy.head_boxes([d["box"] for d in detections]):
        assert np.abs(region(served, head) - region(original, head)).mean() > 3


@pytest.mark.django_db
def test_blur_applies_if_any_project_of_the_caller_that_holds_the_asset_blurs(postgres):
    body = encode_jpeg(scene_with_face().image)
    open_project = make_project("open-store")
    add_member(open_project, "dora", "admin")
    sha = upload(open_project, body, "image/jpeg")
    strict = blurring_project()
    upload(strict, body, "image/jpeg", site="Depot", event_id="e2")
    assert body_of(as_user("dora").get(f"/api/v1/assets/{sha}")) == body  # only in the open project
    add_member(strict, "dora", "annotator")
    dora = as_user("dora")
    assert body_of(dora.get(f"/api/v1/assets/{sha}")) != body  # now one of her projects blurs it
    forbidden = dora.get(f"/api/v1/assets/{sha}?original=1")  # admin elsewhere, not where it is blurred
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "original_forbidden"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?original=1", "?original=0", ""])
def test_a_member_of_another_project_gets_404(postgres, query):
    sha = upload(blurring_project(), encode_jpeg(scene_with_face().image), "image/jpeg")
    for path in PATHS:
        response = as_user("charlie").get(f"/api/v1/assets/{sha}{path}{query}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert originals_viewed() == []


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["yes", "true", "2", "", "1,1", "01"])
def test_a_bad_original_parameter_is_400_and_nothing_is_made_or_audited(postgres, value, _media_root):
    sha = upload(blurring_project(), encode_jpeg(scene_with_face().image), "image/jpeg")
    for path in PATHS:
        response = as_user("ada").get(f"/api/v1/assets/{sha}{path}?original={value}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_original"
    assert originals_viewed() == []
    assert not (_media_root / "frames").exists()
