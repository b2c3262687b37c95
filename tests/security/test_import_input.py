"""Imports refuse every malformed input with a 400 naming the field (404 for outsiders), never a 500, and
work from a browser session: on PostgreSQL and on the embedded SQLite (tests/test_sqlite_mode.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from annotations.models import Camera, Prediction, Project
from reviewer.models import ReviewItem
from tests.factories import add_member, as_user, make_device_kit, make_items, make_project

pytestmark = pytest.mark.django_db
HUGE = "1" + "0" * 25  # an integer past 64 bits, written as JSON


@pytest.fixture
def project() -> Project:
    project = make_project("store-counts", classes=("person", "bag"))
    add_member(project, "dana", "admin")
    add_member(make_project("bus-counts"), "olga", "admin")  # an admin, but of another project
    make_items(project, 2)
    return project


@pytest.fixture
def shas(project: Project) -> list[str]:
    return list(ReviewItem.objects.filter(project=project).order_by("pk").values_list("asset__sha256", flat=True))


def browser(username: str) -> tuple[Client, str]:
    """A session as the browser app holds one: logged in, with the CSRF cookie it echoes in `X-CSRFToken`."""
    client = Client(enforce_csrf_checks=True)
    login = client.post("/api/v1/auth/login", {"username": username, "password": "pw-123456"},
                        content_type="application/json")
    assert login.status_code == 200, login.content
    assert client.get("/api/v1/auth/me").status_code == 200
    return client, client.cookies["csrftoken"].value


def coco(shas: list[str]) -> dict[str, Any]:
    return {"images": [{"id": 1, "file_name": f"{shas[0]}.jpg"}, {"id": 2, "file_name": f"{shas[1]}.jpg"}],
            "categories": [{"id": 1, "name": "person"}],
            "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}]}


def test_a_browser_session_imports_with_the_csrf_token_and_the_item_gets_its_camera_site(project, shas):
    kit = make_device_kit(project)  # site "Main St", camera door-1: the site make_items used
    camera = Camera.objects.get(site__project=project)
    first = ReviewItem.objects.filter(project=project).order_by("pk").first()
    assert first is not None
    Prediction.objects.create(project=project, asset=first.asset, camera=camera, event_type="prediction",
                              payload_hash="y", captured_at=timezone.now(), received_at=timezone.now())
    client, token = browser("dana")
    url = f"/api/v1/projects/{project.pk}/imports"
    body = json.dumps(coco(shas))
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403  # the session alone is not enough: CSRF holds
    response = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    assert response.json()["format"] == "coco" and response.json()["items"] == 2
    items = {i.asset.sha256: i for i in ReviewItem.objects.filter(pk__in=response.json()["item_ids"])}
    assert items[shas[0]].site_id == camera.site_id == kit.device.cameras.get().site_id
    assert items[shas[1]].site_id is None  # no camera prediction of that asset names a site


def test_an_outsider_session_gets_404_before_the_body_is_read(project):
    client, token = browser("olga")
    before = ReviewItem.objects.count()
    url = f"/api/v1/projects/{project.pk}/imports"
    for body in (b"\xff{not json", json.dumps([{"data": {"image": "x.jpg"}}]).encode()):
        response = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.content
    # the same unparseable body from the project's admin is a 400 that says where it broke: it was not read above
    client, token = browser("dana")
    response = client.post(url, b"\xff{not json", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
    assert ReviewItem.objects.count() == before


BAD_IDS = {"list": "[1]", "object": '{"id": 1}', "past 64 bits": HUGE, "boolean": "true"}
ID_PLACES = {  # where the id goes in the COCO file, and the details the 400 names
    "image id": (("images", 0, "id"), {"image": 0, "field": "id"}),
    "category id": (("categories", 0, "id"), {"category": 0, "field": "id"}),
    "annotation image_id": (("annotations", 0, "image_id"), {"annotation": 0, "field": "image_id"}),
    "annotation category_id": (("annotations", 0, "category_id"), {"annotation": 0, "field": "category_id"}),
}


@pytest.mark.parametrize("place", ID_PLACES)
@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_that_is_not_an_integer_is_a_400_naming_the_field(project, shas, place, bad):
    (section, index, key), where = ID_PLACES[place]
    document = coco(shas)
    document[section][index][key] = "__BAD__"
    body = json.dumps(document).replace('"__BAD__"', BAD_IDS[bad])  # raw JSON: a huge integer stays a literal
    before = ReviewItem.objects.count(), Prediction.objects.count()
    response = as_user("dana").post(f"/api/v1/projects/{project.pk}/imports", body,
                                    content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_import" and {k: error["details"].get(k) for k in where} == where
    assert (ReviewItem.objects.count(), Prediction.objects.count()) == before


def test_a_project_id_past_64_bits_in_the_path_is_404(project):
    for path in (f"/api/v1/projects/{HUGE}/imports", f"/api/v1/projects/{HUGE}/"):
        response = as_user("dana").post(path, "[]", content_type="application/json") if path.endswith(
            "imports") else as_user("dana").get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.content
