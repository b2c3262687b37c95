"""Staff can browse every model in the Django admin; append-only records stay read-only there."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from activelearning.routing.models import RoutingPolicy
from activelearning.routing.policy import DEFAULT_POLICY


@pytest.fixture
def staff_client(kit) -> Client:
    User.objects.create_superuser("root", password="pw-root-123")
    client = Client()
    client.login(username="root", password="pw-root-123")
    return client


@pytest.mark.parametrize("model", ["annotations/project", "annotations/device", "annotations/asset",
                                   "annotations/prediction", "annotations/auditevent", "reviewer/reviewitem",
                                   "activelearning/routingpolicy", "activelearning/modelversion",
                                   "activelearning/prelabelrun", "activelearning/modelevaluation"])
def test_changelists_render(staff_client, model):
    assert staff_client.get(f"/admin/{model}/").status_code == 200


def test_audit_events_cannot_be_added_in_the_admin(staff_client):
    assert staff_client.get("/admin/annotations/auditevent/add/").status_code == 403


def test_policy_added_in_the_admin_is_validated_and_versioned(staff_client, kit):
    import json

    bad = staff_client.post("/admin/activelearning/routingpolicy/add/",
                            {"project": kit.project.pk, "document": json.dumps({"weights": {}})})
    assert bad.status_code == 200 and RoutingPolicy.objects.count() == 0
    good = staff_client.post("/admin/activelearning/routingpolicy/add/",
                             {"project": kit.project.pk, "document": json.dumps(DEFAULT_POLICY)})
    assert good.status_code == 302
    assert RoutingPolicy.objects.get().version == 1


def test_an_assets_page_lists_the_projects_holding_it_read_only(staff_client, kit):
    import hashlib

    from annotations.models import Asset
    from tests.factories import jpeg_bytes

    body = jpeg_bytes(seed=4)
    assert kit.put_media(body).status_code == 201
    asset = Asset.objects.get(sha256=hashlib.sha256(body).hexdigest())
    page = staff_client.get(f"/admin/annotations/asset/{asset.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="holdings-0"' in html and kit.project.slug in html
    assert 'name="holdings-MAX_NUM_FORMS" value="0"' in html  # nothing can be added here
