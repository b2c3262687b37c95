"""The model registry: ONNX uploads validated in a limited child process, candidate → shadow → champion with an
admin's approval, one champion per project, rollback in one action, and over-the-air delivery to devices."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.registry.onnx_probe import Refused, probe
from annotations.models import AuditEvent
from tests.factories import add_member, as_user, make_device_kit, make_project
from tests.onnx_models import detector_bytes, external_data_model, slow_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def kit():
    kit = make_device_kit(make_project("store-counts", classes=("person", "bag")))
    add_member(kit.project, "dana", "admin")
    add_member(kit.project, "alice", "annotator")
    return kit


def upload(project, data: bytes, user: str = "dana", **fields):
    body = {"file": SimpleUploadedFile("model.onnx", data, content_type="application/octet-stream"),
            "name": "people-det", **fields}
    return as_user(user).post(f"/api/v1/projects/{project.pk}/models/", body, format="multipart")


def registered(project, seed: int = 0) -> ModelVersion:
    response = upload(project, detector_bytes(size=32 + 8 * seed))
    assert response.status_code == 201, response.json()
    return ModelVersion.objects.get(pk=response.json()["id"])


def test_a_valid_detector_is_stored_as_a_candidate_with_what_the_probe_read(kit, _media_root):
    data = detector_bytes()
    response = upload(kit.project, data)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "candidate" and body["version"] == 1 and body["classes"] == ["person"]
    assert body["sha256"] == hashlib.sha256(data).hexdigest() and body["size_bytes"] == len(data)
    assert (body["input_width"], body["input_height"]) == (64, 64)
    assert body["metadata"]["num_candidates"] == 64 * 64 and body["metadata"]["test_inference_ms"] > 0
    assert (Path(_media_root) / f"models/{body['sha256']}.onnx").read_bytes() == data
    assert AuditEvent.objects.filter(action="model.uploaded", object_id=str(body["id"])).exists()
    again = upload(kit.project, data)
    assert again.status_code == 409 and again.json()["error"]["code"] == "model_exists"
    listed = as_user("alice").get(f"/api/v1/projects/{kit.project.pk}/models/").json()
    assert [m["id"] for m in listed] == [body["id"]]


@pytest.mark.parametrize("data, code", [
    (b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.", "not_onnx"),  # a pickle renamed .onnx
    (b"PK\x03\x04torch archive", "not_onnx"),
    (b"<html>not a model</html>", "not_onnx"),
    (detector_bytes()[:200], "not_onnx"),  # truncated protobuf
    (external_data_model("../../etc/passwd"), "external_data"),
    (external_data_model("/etc/passwd"), "external_data"),
    (detector_bytes(node_domain="com.evil.ops"), "unsupported_operator"),
    (detector_bytes(output_shape=[1, 5, 64, 64], reshape_to=[1, 5, 64, 64]), "unsupported_layout"),
    (detector_bytes(input_dims=[1, 3, "height", "width"]), "unsupported_layout"),  # dynamic, not declared
    (detector_bytes(reshape_to=[1, 5, 999], output_shape=[1, 5, 999]), "inference_failed"),
    (detector_bytes(names_metadata=False), "invalid_class_map"),  # no names, none declared
])
def test_bad_model_files_are_refused_through_the_api_and_nothing_is_stored(kit, _media_root, data, code):
    response = upload(kit.project, data)
    assert response.status_code == 422, response.json()
    assert response.json()["error"]["code"] == code
    assert not ModelVersion.objects.exists()
    assert not list((Path(_media_root) / "models").glob("*")) if (Path(_media_root) / "models").exists() else True
    assert not list(Path(_media_root, ".upload-tmp").glob("*"))


def test_an_external_data_symlink_is_refused_before_anything_opens_it(tmp_path):
    (tmp_path / "weights.bin").symlink_to("/etc/passwd")
    with pytest.raises(Refused) as refused:
        probe(external_data_model("weights.bin"), classes=None, input_size=None)
    assert refused.value.code == "external_data" and refused.value.details["location"] == "weights.bin"


def test_a_python_op_is_refused():
    from onnx import helper
    pyop = helper.make_node("PyOp", ["images"], ["ignored"], domain="ai.onnx.contrib")
    with pytest.raises(Refused) as refused:
        probe(detector_bytes(extra_node=pyop), classes=None, input_size=None)
    assert refused.value.code == "unsupported_operator"


def test_declared_class_map_and_input_size(kit):
    mismatch = upload(kit.project, detector_bytes(), classes='["person", "bag"]')
    assert mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "invalid_class_map"
    foreign = upload(kit.project, detector_bytes(classes=["person", "cat"]))
    assert foreign.status_code == 400 and foreign.json()["error"]["details"]["unknown"] == ["cat"]
    dynamic = upload(kit.project, detector_bytes(input_dims=[1, 3, "h", "w"]), input_width=64, input_height=64)
    assert dynamic.status_code == 201 and dynamic.json()["input_width"] == 64
    half = upload(kit.project, detector_bytes(size=32), input_width=64)
    assert half.status_code == 400
    bad_json = upload(kit.project, detector_bytes(size=40), classes="person")
    assert bad_json.status_code == 400


def test_a_model_that_spins_is_stopped_by_the_probe_limits(kit, settings):
    settings.LOUPE_MODEL_PROBE_SECONDS = 1
    response = upload(kit.project, slow_model())
    assert response.status_code == 422 and response.json()["error"]["code"] == "model_timeout"
    assert not ModelVersion.objects.exists()


def test_a_model_over_the_size_limit_is_413(kit, settings, _media_root):
    settings.LOUPE_MAX_MODEL_BYTES = 100  # the test detector is a few hundred bytes
    response = upload(kit.project, detector_bytes())
    assert response.status_code == 413 and response.json()["error"]["code"] == "model_too_large"
    assert not list(Path(_media_root, ".upload-tmp").glob("*"))


def test_only_admins_upload_promote_and_roll_back(kit):
    assert upload(kit.project, detector_bytes(), user="alice").status_code == 403
    model = registered(kit.project)
    promote = as_user("alice").post(f"/api/v1/models/{model.pk}/promote", {"to": "champion"}, format="json")
    assert promote.status_code == 403
    assert as_user("alice").post(f"/api/v1/models/{model.pk}/rollback").status_code == 403
    other = make_project("bus-boarding")
    add_member(other, "olga", "admin")
    assert as_user("olga").post(f"/api/v1/models/{model.pk}/promote", {"to": "champion"},
                                format="json").status_code == 404


def test_promotion_keeps_one_champion_and_rollback_restores_the_previous_one(kit):
    first, second = registered(kit.project, 0), registered(kit.project, 1)
    admin = as_user("dana")
    assert admin.post(f"/api/v1/models/{first.pk}/promote", {"to": "shadow"}, format="json").json()["status"] == "shadow"
    champion = admin.post(f"/api/v1/models/{first.pk}/promote", {"to": "champion"}, format="json").json()
    assert champion["status"] == "champion" and champion["approved_by"] == "dana"
    no_previous = admin.post(f"/api/v1/models/{first.pk}/rollback")
    assert no_previous.status_code == 409 and no_previous.json()["error"]["code"] == "no_previous_champion"
    admin.post(f"/api/v1/models/{second.pk}/promote", {"to": "champion"}, format="json")
    assert ModelVersion.objects.get(pk=first.pk).status == ModelStatus.RETIRED
    assert ModelVersion.objects.filter(project=kit.project, status="champion").get().pk == second.pk
    not_champion = admin.post(f"/api/v1/models/{first.pk}/rollback")
    assert not_champion.status_code == 409 and not_champion.json()["error"]["code"] == "not_champion"
    restored = admin.post(f"/api/v1/models/{second.pk}/rollback")
    assert restored.status_code == 200 and restored.json()["id"] == first.pk
    assert ModelVersion.objects.get(pk=second.pk).status == ModelStatus.RETIRED
    assert ModelVersion.objects.get(pk=first.pk).status == ModelStatus.CHAMPION
    actions = list(AuditEvent.objects.filter(object_type="model_version").values_list("action", flat=True))
    assert actions.count("model.promoted") == 3 and actions.count("model.rolled_back") == 1
    bad = admin.post(f"/api/v1/models/{second.pk}/promote", {"to": "retired"}, format="json")
    assert bad.status_code == 400


def test_the_database_refuses_a_second_champion(kit):
    first, second = registered(kit.project, 0), registered(kit.project, 1)
    ModelVersion.objects.filter(pk=first.pk).update(status="champion")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(status="champion")


def test_devices_fetch_the_champion_with_etag_and_resume_the_file_with_range(kit):
    device = APIClient(HTTP_AUTHORIZATION=f"Bearer {kit.token}")
    none = device.get("/api/v1/models/current")
    assert none.status_code == 404 and none.json()["error"]["code"] == "no_champion"
    assert device.post("/api/v1/heartbeat", {}, format="json").json()["model"] is None
    model = registered(kit.project)
    as_user("dana").post(f"/api/v1/models/{model.pk}/promote", {"to": "champion"}, format="json")
    current = device.get("/api/v1/models/current")
    assert current.status_code == 200 and current["ETag"] == f'"{model.sha256}"'
    assert current.json()["url"] == f"/api/v1/models/{model.pk}/file"
    assert device.get("/api/v1/models/current", HTTP_IF_NONE_MATCH=f'"{model.sha256}"').status_code == 304
    assert device.post("/api/v1/heartbeat", {}, format="json").json()["model"]["sha256"] == model.sha256

    url = current.json()["url"]
    whole = device.get(url)
    data = b"".join(whole.streaming_content)
    assert whole.status_code == 200 and hashlib.sha256(data).hexdigest() == model.sha256
    assert whole["Accept-Ranges"] == "bytes"
    # A download broken after 100 bytes resumes from there.
    rest = device.get(url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=f'"{model.sha256}"')
    assert rest.status_code == 206 and rest["Content-Range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
    assert data[:100] + b"".join(rest.streaming_content) == data
    tail = device.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == data[-10:]
    past = device.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(data)}"
    stale = device.get(url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"another-version"')
    assert stale.status_code == 200
    # Another project's device, an annotator and nobody get nothing.
    other = make_device_kit(make_project("bus-boarding"), site="Depot", camera="door-9")
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {other.token}").get(url).status_code == 404
    assert as_user("alice").get(url).status_code == 403
    assert APIClient().get(url).status_code == 401
    assert as_user("dana").get(url).status_code == 200


def test_probe_runs_without_the_servers_secrets(kit, monkeypatch):
    monkeypatch.setenv("LOUPE_SECRET_KEY", "must-not-leak")
    import subprocess
    seen = {}
    real_run = subprocess.run

    def spy(argv, **kwargs):
        seen["env"] = kwargs["env"]
        return real_run(argv, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    assert upload(kit.project, detector_bytes()).status_code == 201
    assert "LOUPE_SECRET_KEY" not in seen["env"] and "DATABASE_URL" not in seen["env"]
    assert os.environ["LOUPE_SECRET_KEY"] == "must-not-leak"


def test_model_uploads_have_their_own_body_limit(settings):
    from config.limits import body_limit_for

    slack = settings.LOUPE_MULTIPART_SLACK
    settings.LOUPE_MAX_MODEL_BYTES = 5_000_000
    assert body_limit_for("/api/v1/projects/3/models/") == 5_000_000 + slack
    assert body_limit_for("/api/v1/training-runs/9/callback") == 5_000_000 + slack
    assert body_limit_for("/api/v1/projects/3/models/1/evil") == settings.LOUPE_MAX_REQUEST_BYTES
