"""Server pre-labels through the real stack: a device sends a frame and an event, the item is queued, the
champion runs in the watchdog'd inference process (onnxruntime), its boxes are stored as a server
Prediction, and disagreement with the field model reroutes the item. Stuck models fail and are retired."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from activelearning.registry.inference import InferenceFailed, InferenceRequest, InferenceWorker
from activelearning.registry.models import ModelStatus, ModelVersion, PrelabelRun, PrelabelStatus
from activelearning.registry.prelabels import disagreement, prelabel_items
from annotations.models import AuditEvent, Prediction, PredictionSource
from reviewer.models import ReviewItem
from tests.factories import jpeg_bytes, make_device_kit, make_project, prediction_event
from tests.onnx_models import fixed_detector_bytes, slow_model

# Items are pre-labeled after the ingest transaction commits (on_commit), so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

# The fixed detector's one box (input 64×64: cx 32, cy 32, 20×20) lands on a 320×240 frame at 110,70 100×100.
SERVER_BOX = [110.0, 70.0, 100.0, 100.0]


def install_champion(project, data: bytes, *, name: str = "server-det",
                     status: str = ModelStatus.CHAMPION) -> ModelVersion:
    """A model as the registry leaves it after validation (the probe is tested in test_model_registry)."""
    sha = hashlib.sha256(data).hexdigest()
    path = default_storage.save(f"models/{sha}.onnx", ContentFile(data))
    version = ModelVersion.objects.filter(project=project).count() + 1
    return ModelVersion.objects.create(project=project, name=name, version=version, file=path, sha256=sha,
                                       size_bytes=len(data), input_width=64, input_height=64, classes=["person"],
                                       status=status)


def send_frame(kit, event_id: str, boxes: list[list[float]], seed: int = 0) -> ReviewItem:
    frame = jpeg_bytes(seed=seed)
    sha = hashlib.sha256(frame).hexdigest()
    put = kit.client.put(f"/api/v1/media/{sha}", frame, content_type="image/jpeg", **kit.headers())
    assert put.status_code in (200, 201)
    event = prediction_event(event_id, sha)
    event["detections"] = [{"label": "person", "score": 0.4, "box": b} for b in boxes]
    response = kit.client.post("/api/v1/events", {"events": [event]}, content_type="application/json",
                               **kit.headers())
    result = response.json()["results"][0]
    assert result["status"] == "created", result
    return ReviewItem.objects.get(pk=result["review_item"])


@pytest.fixture
def kit():
    return make_device_kit(make_project("store-counts"))


def test_a_disagreeing_server_model_reroutes_the_item_at_ingest(kit):
    model = install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    item = send_frame(kit, "e1", boxes=[[5.0, 5.0, 20.0, 20.0]])  # the field model saw something else
    run = PrelabelRun.objects.get(review_item=item)
    assert run.status == PrelabelStatus.DONE and run.model_version == model
    assert run.timings_ms["inference"] >= 0 and run.timings_ms["total_with_ipc"] > 0
    server = Prediction.objects.get(pk=run.prediction_id)
    assert server.source == PredictionSource.SERVER and server.model_sha256 == model.sha256
    [found] = server.detections
    assert found["label"] == "person" and found["score"] == pytest.approx(0.9)
    assert found["box"] == pytest.approx(SERVER_BOX, abs=0.5)
    item.refresh_from_db()
    assert item.reason == "model_disagreement" and item.priority >= 0.5 + 1.0 / 2 - 1e-9
    parts = item.score_parts["model_disagreement"]
    assert parts["matched"] == 0 and parts["field_only"] == 1 and parts["server_only"] == 1
    assert item.score_parts["field_reason"] == "low_confidence"
    assert AuditEvent.objects.filter(action="item.rerouted", object_id=str(item.pk)).exists()
    # The editor shows the parts: they come with the claimed item.
    assert prelabel_items(item_ids=[item.pk]) == {"done": 0, "failed": 0, "skipped": 1}  # once per model


def test_an_agreeing_server_model_only_records_the_score(kit):
    install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    item = send_frame(kit, "e1", boxes=[[112.0, 71.0, 98.0, 99.0]])
    item.refresh_from_db()
    assert item.reason == "low_confidence"
    parts = item.score_parts["model_disagreement"]
    assert parts["matched"] == 1 and parts["score"] < 0.3 and parts["mean_iou"] > 0.9


def test_without_a_champion_nothing_runs(kit):
    item = send_frame(kit, "e1", boxes=[[5.0, 5.0, 20.0, 20.0]])
    assert not PrelabelRun.objects.exists()
    assert prelabel_items(item_ids=[item.pk]) == {"done": 0, "failed": 0, "skipped": 1}


def test_a_stuck_model_fails_by_the_watchdog_and_is_taken_out_of_service(kit, settings):
    settings.LOUPE_PRELABEL_TIMEOUT_SECONDS = 1.0
    settings.LOUPE_PRELABEL_MAX_FAILURES = 2
    model = install_champion(kit.project, slow_model())
    first = send_frame(kit, "e1", boxes=[[5.0, 5.0, 20.0, 20.0]], seed=1)
    run = PrelabelRun.objects.get(review_item=first)
    assert run.status == PrelabelStatus.FAILED and run.error.startswith("timeout:")
    model.refresh_from_db()
    assert model.consecutive_failures == 1 and not model.out_of_service
    send_frame(kit, "e2", boxes=[[5.0, 5.0, 20.0, 20.0]], seed=2)
    model.refresh_from_db()
    assert model.out_of_service and "2 failures in a row" in model.out_of_service_reason
    assert AuditEvent.objects.filter(action="model.out_of_service", object_id=str(model.pk)).exists()
    third = send_frame(kit, "e3", boxes=[[5.0, 5.0, 20.0, 20.0]], seed=3)
    assert not PrelabelRun.objects.filter(review_item=third).exists()  # out of service: not asked again
    third.refresh_from_db()
    assert third.reason == "low_confidence"  # a failed pre-label never reroutes


def test_the_worker_reports_a_models_error_and_survives_it(tmp_path):
    from tests.onnx_models import detector_bytes
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(detector_bytes(reshape_to=[1, 5, 999], output_shape=[1, 5, 999]))
    good = tmp_path / "good.onnx"
    good.write_bytes(fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    worker = InferenceWorker()
    try:
        with pytest.raises(InferenceFailed) as failed:
            worker.infer(InferenceRequest(str(broken), hashlib.sha256(broken.read_bytes()).hexdigest(), ["person"],
                                          64, jpeg_bytes()), timeout=30)
        assert failed.value.kind == "error" and "Reshape" in failed.value.reason
        boxes, _ = worker.infer(InferenceRequest(str(good), hashlib.sha256(good.read_bytes()).hexdigest(),
                                                 ["person"], 64, jpeg_bytes()), timeout=30)
        assert [b["box"] for b in boxes] == [pytest.approx(SERVER_BOX, abs=0.5)]
        with pytest.raises(InferenceFailed) as mismatch:
            worker.infer(InferenceRequest(str(good), "0" * 64, ["person"], 64, jpeg_bytes()), timeout=30)
        assert "ModelHashMismatch" in mismatch.value.reason
    finally:
        worker.close()


def test_disagreement_score():
    a = [{"label": "person", "box": [0, 0, 10, 10]}, {"label": "person", "box": [50, 50, 10, 10]}]
    assert disagreement(a, a).score == 0.0
    assert disagreement(a, []).score == 1.0 and disagreement([], []).score == 0.0
    other_label = [{"label": "bag", "box": [0, 0, 10, 10]}, {"label": "person", "box": [50, 50, 10, 10]}]
    half = disagreement(a, other_label)
    assert half.matched == 1 and half.score == pytest.approx(0.5)
    shifted = [{"label": "person", "box": [1, 0, 10, 10]}, {"label": "person", "box": [50, 50, 10, 10]}]
    loose = disagreement(a, shifted)
    assert loose.matched == 2 and 0 < loose.score < 0.2 and loose.count_delta == 0


def test_prelabels_on_demand_for_the_editor(kit):
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from tests.factories import add_member

    item = send_frame(kit, "e1", boxes=[[5.0, 5.0, 20.0, 20.0]])  # no champion yet: nothing ran
    add_member(kit.project, "alice", "annotator")
    add_member(kit.project, "dana", "admin")
    add_member(make_project("bus-boarding"), "olga", "annotator")

    def client(name: str) -> APIClient:
        c = APIClient()
        c.force_authenticate(User.objects.get(username=name))
        return c

    url = f"/api/v1/items/{item.pk}/prelabels"
    assert client("alice").get(url).json() == []
    none = client("alice").post(url, {}, format="json")
    assert none.status_code == 409 and none.json()["error"]["code"] == "no_champion"
    champion = install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    ran = client("alice").post(url, {}, format="json")
    assert ran.status_code == 201
    body = ran.json()
    assert body["model"]["id"] == champion.pk and body["status"] == "done"
    assert body["boxes"][0]["box"] == pytest.approx(SERVER_BOX, abs=0.5)
    assert client("alice").post(url, {}, format="json").status_code == 200  # once per model
    shadow = install_champion(kit.project, fixed_detector_bytes([(10, 10, 8, 8, 0.8)]), name="shadow",
                              status=ModelStatus.SHADOW)
    by_admin = client("dana").post(url, {"model": shadow.pk}, format="json")
    assert by_admin.status_code == 201 and by_admin.json()["model"]["id"] == shadow.pk
    # An annotator cannot pick the model: the champion answers.
    assert client("alice").post(url, {"model": shadow.pk}, format="json").json()["model"]["id"] == champion.pk
    assert len(client("alice").get(url).json()) == 2
    assert client("olga").get(url).status_code == 404


def accepted_heldout_items(kit, n: int, truth_box: list[float]) -> list[ReviewItem]:
    """`n` accepted items on frames of the held-out split, each with one accepted box."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from activelearning.registry.evaluation import split_of
    from annotations.models import Annotation

    annotator = User.objects.get_or_create(username="alice")[0]
    items, seed = [], 100
    while len(items) < n:
        seed += 1
        if split_of(hashlib.sha256(jpeg_bytes(seed=seed)).hexdigest()) != "heldout":
            continue
        item = send_frame(kit, f"h{seed}", boxes=[[5.0, 5.0, 20.0, 20.0]], seed=seed)
        Annotation.objects.create(project=kit.project, asset=item.asset, review_item_id=item.pk, version=1,
                                  author=annotator, boxes=[{"label": "person", "box": truth_box}],
                                  submitted_at=timezone.now())
        ReviewItem.objects.filter(pk=item.pk).update(status="accepted")
        items.append(item)
    return items


def test_shadow_evaluation_scores_candidate_and_champion_on_the_held_out_frames(kit):
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from tests.factories import add_member

    accepted_heldout_items(kit, 3, truth_box=SERVER_BOX)
    champion = install_champion(kit.project, fixed_detector_bytes([(10, 10, 8, 8, 0.9)]))  # always wrong
    candidate = install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]), name="cand",
                                 status=ModelStatus.CANDIDATE)  # always right
    add_member(kit.project, "dana", "admin")
    add_member(kit.project, "alice", "annotator")
    admin, annotator = APIClient(), APIClient()
    admin.force_authenticate(User.objects.get(username="dana"))
    annotator.force_authenticate(User.objects.get(username="alice"))
    url = f"/api/v1/models/{candidate.pk}/evaluation"
    assert annotator.get(url).status_code == 404
    assert annotator.post(url).status_code == 403
    started = admin.post(url)
    assert started.status_code == 202 and started.json()["baseline"] == champion.pk
    result = annotator.get(url).json()
    assert result["status"] == "done" and result["images"] == 3
    cand, champ = result["report"]["candidate"], result["report"]["champion"]
    assert cand["map50"] == pytest.approx(1.0) and cand["recall"] == pytest.approx(1.0)
    assert cand["count_mae"] == 0
    assert champ["map50"] == pytest.approx(0.0) and champ["recall"] == pytest.approx(0.0)
    assert set(cand["slices"]) == {"site", "camera", "lighting", "crowd"}
    assert cand["slices"]["crowd"]["1-2"]["images"] == 3
    assert cand["slices"]["site"]["Main St"]["map50"] == pytest.approx(1.0)


def test_an_evaluation_uses_the_latest_dataset_versions_test_split_once_one_exists(kit):
    """The hash held-out share may overlap a version's train split: once a version exists it is not used."""
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from activelearning.datasets.models import DatasetEntry, DatasetVersion
    from activelearning.registry.models import ModelEvaluation
    from annotations.models import Annotation
    from tests.factories import add_member

    items = accepted_heldout_items(kit, 3, truth_box=SERVER_BOX)  # all three in the hash held-out share
    version = DatasetVersion.objects.create(project=kit.project, number=1, content_hash="0" * 64)
    for item, split in zip(items, ["test", "train", "train"], strict=True):
        DatasetEntry.objects.create(dataset_version=version, asset=item.asset, review_item=item, split=split,
                                    annotation=Annotation.objects.get(review_item_id=item.pk), slices={})
    other = DatasetVersion.objects.create(project=make_project("elsewhere"), number=1, content_hash="1" * 64)
    install_champion(kit.project, fixed_detector_bytes([(10, 10, 8, 8, 0.9)]))
    candidate = install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]), name="cand",
                                 status=ModelStatus.CANDIDATE)
    add_member(kit.project, "dana", "admin")
    admin = APIClient()
    admin.force_authenticate(User.objects.get(username="dana"))
    url = f"/api/v1/models/{candidate.pk}/evaluation"

    for body, code in [({"dataset_version": other.pk}, "unknown_dataset"), ({"dataset_version": "v1"}, "invalid")]:
        refused = admin.post(url, body, format="json")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == code
    assert not ModelEvaluation.objects.exists()

    started = admin.post(url)
    assert started.status_code == 202 and started.json()["dataset_version"] == version.pk
    result = admin.get(url).json()
    assert result["status"] == "done" and result["images"] == 1  # the test split only, not the three
    assert result["dataset_version"] == version.pk and result["dataset_number"] == 1
    assert admin.post(url, {"dataset_version": version.pk}, format="json").json()["dataset_version"] == version.pk


def test_a_model_that_exhausts_memory_fails_alone_under_the_cap(tmp_path):
    from tests.onnx_models import memory_hog_model

    hog = tmp_path / "hog.onnx"
    hog.write_bytes(memory_hog_model())
    good = tmp_path / "good.onnx"
    good.write_bytes(fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    worker = InferenceWorker(max_memory_mb=1024)  # the 1.6 GB tensor cannot fit
    try:
        with pytest.raises(InferenceFailed) as failed:
            worker.infer(InferenceRequest(str(hog), hashlib.sha256(hog.read_bytes()).hexdigest(), ["person"], 64,
                                          jpeg_bytes()), timeout=60)
        assert failed.value.kind in {"error", "crashed"}
        boxes, _ = worker.infer(InferenceRequest(str(good), hashlib.sha256(good.read_bytes()).hexdigest(),
                                                 ["person"], 64, jpeg_bytes()), timeout=60)
        assert len(boxes) == 1  # the worker (restarted if it had to be) still serves the next model
    finally:
        worker.close()


def test_an_ingest_queues_pre_labels_only_when_a_champion_serves(kit, monkeypatch, django_capture_on_commit_callbacks):
    """Without a champion every item would be skipped: the task is not even sent (it reloaded the batch's items
    on every ingest, 18 % of the ingest server's time in the embedded mode)."""
    from activelearning.registry import tasks

    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.prelabel_items_task, "delay", lambda *, item_ids: sent.append(item_ids))
    with django_capture_on_commit_callbacks(execute=True):
        send_frame(kit, "no-champion", boxes=[[5.0, 5.0, 20.0, 20.0]], seed=1)
    assert sent == []
    install_champion(kit.project, fixed_detector_bytes([(32, 32, 20, 20, 0.9)]))
    with django_capture_on_commit_callbacks(execute=True):
        item = send_frame(kit, "with-champion", boxes=[[5.0, 5.0, 20.0, 20.0]], seed=2)
    assert sent == [[item.pk]]
