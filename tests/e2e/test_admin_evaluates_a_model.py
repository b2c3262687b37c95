"""An admin re-uploads the champion's own weights on the models page and evaluates them: the numbers equal the
champion's on the same frames (the copy takes the champion's operating threshold), the page names both models
by their display names, says which frames were used and that they are too few to call a difference (nothing
coloured better or worse), and the stored evaluation row holds those same numbers. The training panel shows a
failed run's log without server paths or library warnings (the raw one folded away for admins)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx
import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from activelearning.datasets.models import DatasetEntry
from activelearning.registry.evaluation import MIN_COMPARISON_FRAMES
from activelearning.registry.models import ModelEvaluation, ModelStatus, ModelVersion
from activelearning.training.models import TrainingRun
from activelearning.training.threshold import freeze_dataset
from annotations.models import Annotation, Asset, AuditEvent, Camera, Site
from reviewer.models import ItemStatus, ReviewItem
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import jpeg_bytes, make_project
from tests.onnx_models import fixed_detector_bytes

pytestmark = pytest.mark.django_db(transaction=True)

# A confident box on the person and a weak false alarm: the operating threshold decides whether it counts.
WEIGHTS = fixed_detector_bytes([(32, 32, 20, 20, 0.9), (10, 40, 8, 8, 0.35)])
PERSON = [110.0, 70.0, 100.0, 100.0]
SLOW = 60_000  # validation and evaluation run models in sandboxed child processes; the machine is shared
NUMBERS = ("images", "ground_truth", "predictions", "map50", "map50_95", "precision", "recall", "count_mae",
           "count_bias", "slices")


@pytest.fixture(scope="session")
def eval_server(start_server):
    """The app running its jobs right after the commit (embedded mode: no worker process in the test)."""
    return start_server(LOUPE_CELERY_EAGER="true")


def accepted_frames(project, media_root: Path, n: int) -> None:
    """`n` accepted frames of one camera, each a real JPEG in the server's media, one person annotated."""
    author = User.objects.create_user("alice")
    camera = Camera.objects.create(site=Site.objects.create(project=project, name="Main St"), name="door")
    for seed in range(n):
        data = jpeg_bytes(seed=seed)
        sha = hashlib.sha256(data).hexdigest()
        (media_root / "assets").mkdir(parents=True, exist_ok=True)
        (media_root / "assets" / f"{sha}.jpg").write_bytes(data)
        asset = Asset.objects.create(sha256=sha, kind="frame", content_type="image/jpeg", file=f"assets/{sha}.jpg",
                                     size_bytes=len(data), width=320, height=240)
        item = ReviewItem.objects.create(project=project, asset=asset, site=camera.site, camera=camera,
                                         reason="low_confidence", priority=0.5, status=ItemStatus.ACCEPTED)
        Annotation.objects.create(project=project, asset=asset, review_item_id=item.pk, version=1, author=author,
                                  boxes=[{"label": "person", "box": PERSON}], submitted_at=timezone.now())


def re_exported(data: bytes) -> bytes:
    """The same weights in a different file (one more metadata entry), as a second export would be."""
    model = onnx.load_from_string(data)
    model.metadata_props.add(key="exported_by", value="a second export")
    return model.SerializeToString()


def upload_in_browser(page, name: str, data: bytes) -> None:
    page.get_by_test_id("model-file").set_input_files(
        files=[{"name": f"{name}.onnx", "mimeType": "application/octet-stream", "buffer": data}])
    page.get_by_test_id("model-name").fill(name)
    page.get_by_test_id("model-upload-submit").click()


def test_admin_re_uploads_the_champions_weights_and_sees_identical_numbers(browser, eval_server, make_user,
                                                                          screenshot):
    project = make_project("eval-journey")
    accepted_frames(project, eval_server.media_root, 8)
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    test_frames = DatasetEntry.objects.filter(dataset_version=version, split="test").count()
    assert test_frames >= 1  # a first version of a one-camera project still has a test split
    # A failed run whose trainer printed server paths and a library warning.
    run = TrainingRun.objects.create(project=project, dataset_version=version, backend="command", status="failed",
                                     error="the trainer exited with code 1", log=(
        "loading /tmp/loupe-train-1-x8k2/dataset/data.yaml\n"
        "/srv/venv/lib/python3.11/site-packages/torch/nn/modules/conv.py:456: UserWarning: slow path\n"
        "  return F.conv2d(input, weight)\n"
        "out of memory\n"))
    password = add_browser_member(make_user, project, "dana", "admin")
    context = browser.new_context(base_url=eval_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the confirmations
        sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/models")

        log = page.get_by_test_id(f"training-log-{run.pk}")
        expect(log).to_have_text("loading <run>/dataset/data.yaml\nout of memory\n(1 library warning hidden)")
        expect(page.get_by_test_id(f"training-raw-log-{run.pk}")).to_contain_text("Raw log (admins)")
        log.scroll_into_view_if_needed()
        screenshot(page, "training-log-clean")

        upload_in_browser(page, "people-detector", WEIGHTS)
        expect(page.get_by_test_id("model-list")).to_contain_text("people-detector v1", timeout=SLOW)
        champion = ModelVersion.objects.get(project=project)
        page.get_by_test_id(f"model-promote-{champion.pk}").click()
        expect(page.get_by_test_id(f"model-status-{champion.pk}")).to_have_text("champion")
        # The champion runs at its card's operating point, as the demo detector does.
        ModelVersion.objects.filter(pk=champion.pk).update(conf_threshold=0.5, metadata={
            **champion.metadata, "operating_point": {"score_threshold": 0.5, "source": "given"}})

        upload_in_browser(page, "people-detector", re_exported(WEIGHTS))
        expect(page.get_by_test_id("model-list")).to_contain_text("people-detector v2", timeout=SLOW)
        copy = ModelVersion.objects.get(project=project, version=2)
        assert copy.status == ModelStatus.CANDIDATE and copy.conf_threshold == 0.5
        screenshot(page, "models-re-upload")

        page.get_by_test_id(f"model-eval-{copy.pk}").click()
        panel = page.get_by_test_id("evaluation")
        expect(panel).to_contain_text("Shadow evaluation: people-detector v2")
        page.get_by_test_id("evaluate").click()
        expect(page.get_by_test_id("evaluation-table")).to_be_visible(timeout=SLOW)
        expect(page.get_by_test_id("evaluation-frames")).to_contain_text(
            f"{'1 frame' if test_frames == 1 else f'{test_frames} frames'} of dataset v1's test split, "
            "against the champion (people-detector v1)")
        expect(page.get_by_test_id("evaluation-too-few")).to_contain_text(
            f"Too few frames to compare (n={test_frames}; at least {MIN_COMPARISON_FRAMES} are needed)")
        expect(page.get_by_test_id("evaluation-thresholds")).to_contain_text("this model at score ≥ 0.50 (taken "
                                                                            "from the champion at upload)")
        expect(page.get_by_test_id("evaluation-thresholds")).to_contain_text("the champion at ≥ 0.50 (set at upload)")
        expect(page.get_by_test_id("evaluation-thresholds")).not_to_contain_text("The thresholds differ")
        overall = page.get_by_test_id("eval-row-all")
        cells = overall.locator("td").all_inner_texts()[1:]
        for cell in cells:  # "1.000 vs 1.000": the copy's number beside the champion's
            mine, _, theirs = cell.partition(" vs ")
            assert mine.strip() == theirs.strip(), cells
        expect(overall.locator("td.status-ok, td.status-bad")).to_have_count(0)  # nothing called better or worse
        screenshot(page, "models-evaluation-identical-weights")

        evaluation = ModelEvaluation.objects.get(model_version=copy)
        assert evaluation.status == "done" and evaluation.baseline_id == champion.pk
        assert evaluation.dataset_version_id == version.pk and evaluation.images == test_frames
        assert evaluation.requested_by.username == "dana"
        for key in NUMBERS:
            assert evaluation.report["candidate"][key] == evaluation.report["champion"][key], key
        assert evaluation.report["candidate"]["precision"] == 1.0 and evaluation.report["candidate"]["count_mae"] == 0
        assert evaluation.report["frames"]["too_few"] is True
        assert AuditEvent.objects.filter(action="model.evaluation_requested", object_id=str(copy.pk),
                                         actor__username="dana").exists()
    finally:
        context.close()
