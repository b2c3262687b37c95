from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotations.models import Camera, Device
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def test_create_device_prints_a_working_token_once_and_stores_only_its_hash():
    make_project("store-counts")
    out = StringIO()
    call_command("create_device", "--project", "store-counts", "--site", "Main St", "--camera", "door-1",
                 "--camera", "aisle-3", stdout=out)
    token = re.search(r"token: (\S+)", out.getvalue()).group(1)
    device = Device.objects.get()
    assert device.token_hash == Device.hash_token(token) and token not in device.token_hash
    assert set(Camera.objects.filter(device=device).values_list("name", flat=True)) == {"door-1", "aisle-3"}
    response = Client().post("/api/v1/heartbeat", data={}, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_create_device_for_an_unknown_project_fails():
    with pytest.raises(CommandError, match="No project"):
        call_command("create_device", "--project", "nope", "--site", "x", "--camera", "y")

