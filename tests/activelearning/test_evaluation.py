"""Shadow evaluation that can be trusted: the champion's own weights, re-uploaded, score exactly as the
champion on the same frames (real onnxruntime, self-built ONNX detectors); the page's API says which frames
were used and when they are too few to call a difference."""

from __future__ import annotations

import hashlib

import onnx
import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from activelearning.registry.evaluation import MIN_COMPARISON_FRAMES, run_evaluation
from activelearning.registry.models import ModelEvaluation, ModelStatus, ModelVersion
from activelearning.registry.services import promote_model, register_model_file
from activelearning.training.threshold import freeze_dataset
from annotations.models import Annotation, Asset, Camera, Site
from reviewer.models import ItemStatus, ReviewItem
from tests.factories import add_member, as_user, jpeg_bytes, make_project
from tests.onnx_models import fixed_detector_bytes

pytestmark = pytest.mark.django_db(transaction=True)

# One confident box where the person is (lands at 110,70 100×100 on a 320×240 frame) and one weak false alarm:
# the operating threshold decides whether the false alarm counts, so a threshold mix-up shows in the numbers.
CANDIDATES = [(32, 32, 20, 20, 0.9), (10, 40, 8, 8, 0.35)]
PERSON = [110.0, 70.0, 100.0, 100.0]
NUMBERS = ("images", "ground_truth", "predictions", "map50", "map50_95", "precision", "recall", "count_mae",
           "count_bias", "slices")


def accepted_frames(project, n: int) -> None:
    """`n` accepted items of one camera, each a real JPEG in storage with one person annotated."""
    author = User.objects.get_or_create(username="alice")[0]
    camera = Camera.objects.create(site=Site.objects.create(project=project, name="Main St"), name="door")
    for seed in range(n):
        data = jpeg_bytes(seed=seed)
        sha = hashlib.sha256(data).hexdigest()
        path = default_storage.save(f"assets/{sha}.jpg", ContentFile(data))
        asset = Asset.objects.create(sha256=sha, kind="frame", content_type="image/jpeg", file=path,
                                     size_bytes=len(data), width=320, height=240)
        item = ReviewItem.objects.create(project=project, asset=asset, site=camera.site, camera=camera,
                                         reason="low_confidence", priority=0.5, status=ItemStatus.ACCEPTED)
        Annotation.objects.create(project=project, asset=asset, review_item_id=item.pk, version=1, author=author,
                                  boxes=[{"label": "person", "box": PERSON}], submitted_at=timezone.now())


def same_weights_new_file(data: bytes) -> bytes:
    """The same graph and weights with one more metadata entry: a different file (sha256), identical outputs."""
    model = onnx.load_from_string(data)
    model.metadata_props.add(key="exported_by", value="a second export")
    return model.SerializeToString()


def test_the_champions_weights_re_uploaded_score_exactly_as_the_champion(tmp_path):
    project = make_project("eval-store")
    add_member(project, "dana", "admin")
    accepted_frames(project, 8)
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    weights = fixed_detector_bytes(CANDIDATES)
    path = tmp_path / "champion.onnx"
    path.write_bytes(weights)
    # The champion runs at its card's operating point, as the demo detector does.
    champion = register_model_file(project=project, path=path, name="people-detector", user=None,
                                   conf_threshold=0.5)
    promote_model(model=champion, user=None, to=ModelStatus.CHAMPION)

    admin = as_user("dana")
    copy = same_weights_new_file(weights)
    upload = admin.post(f"/api/v1/projects/{project.pk}/models/", {
        "file": ContentFile(copy, name="again.onnx"), "name": "people-detector"}, format="multipart")
    assert upload.status_code == 201, upload.json()
    assert upload.json()["display_name"] == "people-detector v2"
    candidate = ModelVersion.objects.get(pk=upload.json()["id"])
    assert candidate.sha256 != champion.sha256 and candidate.conf_threshold == 0.5
    assert candidate.metadata["operating_point"] == {"score_threshold": 0.5, "source": "champion",
                                                     "champion": "people-detector v1"}

    started = admin.post(f"/api/v1/models/{candidate.pk}/evaluation", {}, format="json")
    assert started.status_code == 202
    evaluation = run_evaluation(evaluation_id=started.json()["id"])
    assert evaluation.status == "done" and evaluation.dataset_version_id == version.pk and evaluation.images >= 1
    stored = ModelEvaluation.objects.get(pk=evaluation.pk).report
    for key in NUMBERS:
        assert stored["candidate"][key] == stored["champion"][key], key
    assert stored["candidate"]["precision"] == 1.0 and stored["candidate"]["count_mae"] == 0.0
    assert stored["candidate"]["score_threshold"] == stored["champion"]["score_threshold"] == 0.5
    assert stored["candidate"]["display_name"] == "people-detector v2"

    shown = admin.get(f"/api/v1/models/{candidate.pk}/evaluation").json()
    assert shown["frames_source"] == "dataset_test" and shown["dataset_number"] == 1
    assert shown["too_few_frames"] is True and shown["min_frames"] == MIN_COMPARISON_FRAMES
    assert stored["frames"] == {"source": "dataset_test", "count": evaluation.images,
                                "min_for_comparison": MIN_COMPARISON_FRAMES, "too_few": True}


def test_without_a_dataset_version_the_api_says_so_and_that_the_frames_are_few():
    project = make_project("eval-early")
    add_member(project, "dana", "admin")
    accepted_frames(project, 3)
    path = default_storage.path(default_storage.save("models/x.onnx", ContentFile(fixed_detector_bytes(CANDIDATES))))
    from pathlib import Path

    model = register_model_file(project=project, path=Path(path), name="people-detector", user=None)
    assert model.metadata["operating_point"] == {"score_threshold": 0.25, "source": "default"}
    admin = as_user("dana")
    started = admin.post(f"/api/v1/models/{model.pk}/evaluation", {}, format="json")
    run_evaluation(evaluation_id=started.json()["id"])
    shown = admin.get(f"/api/v1/models/{model.pk}/evaluation").json()
    assert shown["status"] == "done" and shown["dataset_version"] is None
    assert shown["frames_source"] == "held_out_no_dataset" and shown["too_few_frames"] is True


def test_versions_without_a_test_split_evaluate_on_held_out_frames_never_trained_on_and_say_so():
    from activelearning.datasets.models import DatasetEntry, DatasetVersion
    from activelearning.registry.evaluation import split_of

    project = make_project("eval-legacy")
    add_member(project, "dana", "admin")
    accepted_frames(project, 20)
    items = list(ReviewItem.objects.filter(project=project).select_related("asset").order_by("pk"))
    # A version frozen before every version had a test split (its frames in train and val); ten frames since.
    legacy = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64)
    for i, item in enumerate(items[:10]):
        DatasetEntry.objects.create(dataset_version=legacy, asset=item.asset, review_item=item, split=(
            "train" if i % 2 else "val"), annotation=Annotation.objects.get(review_item_id=item.pk))
    path = default_storage.path(default_storage.save("models/y.onnx", ContentFile(fixed_detector_bytes(CANDIDATES))))
    from pathlib import Path

    model = register_model_file(project=project, path=Path(path), name="people-detector", user=None)
    admin = as_user("dana")
    started = admin.post(f"/api/v1/models/{model.pk}/evaluation", {}, format="json")
    evaluation = run_evaluation(evaluation_id=started.json()["id"])
    never_in_a_version = [item for item in items[10:] if split_of(item.asset.sha256) == "heldout"]
    held_out = [item for item in items if split_of(item.asset.sha256) == "heldout"]
    assert len(held_out) > len(never_in_a_version) > 0  # the seeds put held-out frames on both sides
    assert evaluation.status == "done" and evaluation.images == len(never_in_a_version)
    shown = admin.get(f"/api/v1/models/{model.pk}/evaluation").json()
    assert shown["frames_source"] == "held_out_no_test_split" and shown["dataset_version"] is None
