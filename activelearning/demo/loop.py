"""The whole loop on synthetic data, through the real API and workers (`python manage.py demo_loop`).

1. A field simulation: hard store/bus scenes (dim and night light, crowds) from the foundation's generator,
   recorded by night-shift cameras in infrared night mode (monochrome, grainy), which the champion never saw;
   a device runs the champion (the demo detector) on each frame as it would on the edge, and sends the frame
   and its predictions through the device API.
2. An oracle plays the annotators: it claims items through the people API and submits the scene generator's
   ground truth; with QA off, each submit is an acceptance.
3. The acceptances cross the threshold: exactly one retrain request, a frozen dataset version, a training
   run of the reference trainer fine-tuning the champion on it, a candidate, and the gate's shadow
   evaluation.
4. Champion and candidate are scored on fresh field-like frames and on ordinary ones, per slice; the
   candidate is promoted by an admin (through the API) when it wins on the field slice without losing the
   ordinary one, and the device picks it up over the air and reports it in its heartbeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np
import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from activelearning.datasets.models import DatasetVersion
from activelearning.demo.model import DEMO_DETECTOR, demo_operating_threshold, install_demo_detector
from activelearning.metrics import crowd_bucket, evaluate_detections
from activelearning.registry.detector import Detector
from activelearning.registry.models import ModelVersion
from activelearning.routing.policy import DEFAULT_POLICY
from activelearning.routing.services import save_policy
from activelearning.training.models import RetrainRequest, TrainerConfig, TrainingRun
from activelearning.training.runs import run_training
from annotations.models import Device, Membership, Project, Role
from annotations.services import create_device
from loupe_synthetic.scenes import SceneKind, encode_jpeg, night_vision, render_scene

# Where the demo champion is weakest (its card: crowds of 11+ and night light), seen by the night shift's
# cameras in infrared night mode, which it never saw in training.
HARD_LIGHTING = ("night", "dim")
HARD_CROWD = (12, 26)
FIELD, ORDINARY = "IR night, crowded", "ordinary"
CAMERAS = ("entrance", "aisle-1", "aisle-2", "aisle-3", "tills", "exit")


class LoopFailed(RuntimeError):
    """A step of the loop did not do what the product promises (the message says which)."""


@dataclass
class LoopConfig:
    field_frames: int = 400  # hard frames the device sends
    threshold: int = 320  # acceptances that trigger the retrain
    epochs: int = 20  # passes of the reference trainer over the dataset's train split
    eval_frames: int = 100  # fresh frames per evaluation set (field-like and ordinary)
    seed: int = 2026
    approve: str = "if_better"  # or "always" (tests: the mechanics, whatever a tiny training achieves)


@dataclass
class LoopReport:
    project: str = ""
    events: int = 0
    accepted: int = 0
    retrain_requests: int = 0
    dataset: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    promoted: bool = False
    device_model: str = ""


def _scene(seed: int, *, hard: bool, rng: np.random.Generator) -> Any:
    """A field frame (hard: a night-mode camera on a dim or dark, crowded scene) or an ordinary one."""
    kind: SceneKind = "store" if seed % 2 == 0 else "bus"
    if not hard:
        return render_scene(kind, seed, layout=int(rng.integers(0, 8)))
    scene = render_scene(kind, seed, lighting=str(rng.choice(HARD_LIGHTING, p=[0.7, 0.3])),
                         crowd=int(rng.integers(*HARD_CROWD)), layout=int(rng.integers(0, 8)))
    return replace(scene, image=night_vision(scene.image, rng))


def _expect(response: Any, statuses: set[int], what: str) -> Any:
    if response.status_code not in statuses:
        raise LoopFailed(f"{what} answered {response.status_code}: {response.content[:300]!r}")
    return response


def _evaluate(detector: Detector, frames: list[tuple[bytes, list[dict[str, Any]], dict[str, str]]],
              threshold: float) -> dict[str, Any]:
    predictions = [detector.detect(jpeg, conf_threshold=0.001) for jpeg, _, _ in frames]
    return evaluate_detections(predictions, [t for _, t, _ in frames], score_threshold=threshold,
                               slices=[s for _, _, s in frames]).as_dict()


def _eval_sets(config: LoopConfig) -> list[tuple[bytes, list[dict[str, Any]], dict[str, str]]]:
    """Fresh frames no one trained on: field-like (hard) and ordinary, with their slice keys."""
    rng = np.random.default_rng([config.seed, 99])
    frames = []
    for i in range(config.eval_frames * 2):
        hard = i % 2 == 0
        scene = _scene(10_000_000 + config.seed * 1000 + i, hard=hard, rng=rng)
        truth = [{"label": b.label, "box": list(b.box)} for b in scene.boxes]
        frames.append((encode_jpeg(scene.image), truth, {
            "field": FIELD if hard else ORDINARY, "lighting": scene.meta.lighting,
            "crowd": crowd_bucket(len(truth))}))
    return frames


def run_loop(config: LoopConfig, say: Callable[[str], None] = print) -> LoopReport:
    report = LoopReport()
    with override_settings(LOUPE_TRAINING_AUTOSTART=False, LOUPE_STATS_PUSH_INTERVAL=-1):
        project, admin, oracle, device_client, device = _setup(config, report, say)
        truths = _field(config, project, device_client, report, say)
        _annotate(project, oracle, truths, report, say)
        run = _train(project, report, say)
        _compare(config, run, report, say)
        _promote_and_deliver(config, run, admin, device_client, device, report, say)
    return report


def _setup(config: LoopConfig, report: LoopReport, say: Callable[[str], None]) -> tuple[
        Project, Client, Client, Client, Device]:
    users = get_user_model()
    slug = f"loop-demo-{timezone.now():%Y%m%d%H%M%S}-{config.seed}"
    project = Project.objects.create(slug=slug, name="Loop demo: night shift", label_classes=["person"],
                                     retrain_threshold=config.threshold, qa_sample_rate=0.0)
    report.project = slug
    admin_user, _ = users.objects.get_or_create(username="loop-admin")
    oracle_user, _ = users.objects.get_or_create(username="loop-oracle")
    Membership.objects.create(project=project, user=admin_user, role=Role.ADMIN)
    Membership.objects.create(project=project, user=oracle_user, role=Role.ANNOTATOR)
    # The field program: every frame a device sends is worth a look (no minimum priority, no caps).
    save_policy(project=project, user=None, document={
        **DEFAULT_POLICY, "description": "demo loop: queue every hard case", "min_priority": 0.0,
        "caps": {"per_minute": None, "per_hour": None, "per_day": None, "per_site_per_day": None}})
    TrainerConfig.objects.create(project=project, backend="reference", epochs=config.epochs, auto_promote=False)
    champion = install_demo_detector(project)
    issued = create_device(project=project, site_name="Night Store", camera_names=list(CAMERAS))
    host = "127.0.0.1"
    device_client = Client(HTTP_AUTHORIZATION=f"Bearer {issued.token}", HTTP_HOST=host)
    admin, oracle = Client(HTTP_HOST=host), Client(HTTP_HOST=host)
    admin.force_login(admin_user)
    oracle.force_login(oracle_user)
    say(f"project {slug}: champion {champion.name} v{champion.version} ({champion.sha256[:12]}), "
        f"threshold {config.threshold} acceptances, trainer reference × {config.epochs} epochs")
    return project, admin, oracle, device_client, issued.device


def _field(config: LoopConfig, project: Project, device: Client, report: LoopReport,
           say: Callable[[str], None]) -> dict[str, list[dict[str, Any]]]:
    """The device's side: run the champion on hard frames, send frame and predictions. Returns the truth."""
    detector = Detector(DEMO_DETECTOR, conf_threshold=demo_operating_threshold())
    rng = np.random.default_rng([config.seed, 1])
    truths: dict[str, list[dict[str, Any]]] = {}
    events = []
    now = timezone.now()
    for i in range(config.field_frames):
        scene = _scene(config.seed * 100_000 + i, hard=True, rng=rng)
        jpeg = encode_jpeg(scene.image)
        sha = hashlib.sha256(jpeg).hexdigest()
        _expect(device.put(f"/api/v1/media/{sha}", data=jpeg, content_type="image/jpeg"), {200, 201}, "PUT media")
        truths[sha] = [{"label": b.label, "box": [round(v, 2) for v in b.box]} for b in scene.boxes]
        detections = detector.detect(jpeg)
        events.append({
            "id": f"loop-{config.seed}-{i}", "type": "prediction", "camera": CAMERAS[i % len(CAMERAS)],
            "captured_at": (now - timedelta(seconds=config.field_frames - i)).isoformat(), "asset": sha,
            "frame_index": 0, "model": {"name": "people-detector", "version": "1", "sha256": "0" * 64},
            "detections": detections, "reason": "low_confidence" if len(detections) < len(scene.boxes) else "ood"})
    for start in range(0, len(events), settings.LOUPE_MAX_BATCH_EVENTS):
        body = orjson.dumps({"events": events[start : start + settings.LOUPE_MAX_BATCH_EVENTS]})
        results = _expect(device.post("/api/v1/events", data=body, content_type="application/json"), {200},
                          "POST events").json()["results"]
        if any(r["status"] != "created" for r in results):
            raise LoopFailed(f"the server did not take every event: {results[:3]}")
    report.events = len(events)
    say(f"field: {len(events)} hard frames (IR night mode, night/dim, 12–25 people) sent with the champion's "
        "predictions")
    return truths


def _annotate(project: Project, oracle: Client, truths: dict[str, list[dict[str, Any]]], report: LoopReport,
              say: Callable[[str], None]) -> None:
    """The oracle claims items and submits the generator's ground truth until the queue is empty."""
    while True:
        claimed = _expect(oracle.post(f"/api/v1/projects/{project.pk}/queue/claim", data=b"{}",
                                      content_type="application/json"), {200, 204}, "claim")
        if claimed.status_code == 204:
            break
        item = claimed.json()
        body = {"lease_token": item["lease_token"], "boxes": truths[item["asset"]["sha256"]], "verdict": "correct",
                "note": "oracle: generator ground truth"}
        _expect(oracle.post(f"/api/v1/items/{item['id']}/submit", data=orjson.dumps(body),
                            content_type="application/json"), {201}, "submit")
        report.accepted += 1
    report.retrain_requests = RetrainRequest.objects.filter(project=project).count()
    say(f"annotation: {report.accepted} items accepted; retrain requests: {report.retrain_requests}")
    if report.retrain_requests != 1:
        raise LoopFailed(f"expected exactly one retrain request, got {report.retrain_requests}")


def _train(project: Project, report: LoopReport, say: Callable[[str], None]) -> TrainingRun:
    version = DatasetVersion.objects.get(project=project)
    report.dataset = {"number": version.number, "hash": version.content_hash, **version.stats}
    say(f"dataset v{version.number} frozen: {version.stats['items']} frames, {version.stats['boxes']} boxes, "
        f"splits {version.stats['per_split']}, hash {version.content_hash[:12]}")
    run = TrainingRun.objects.get(project=project)
    say(f"training run #{run.pk}: reference trainer, fine-tuning the champion …")
    run_training(run_id=run.pk)
    run.refresh_from_db()
    report.training = {"run": run.pk, "status": run.status, "error": run.error,
                       "minutes": round((run.finished_at - run.started_at).total_seconds() / 60, 2)
                       if run.finished_at and run.started_at else None}
    if run.status != "succeeded" or run.model_version is None:
        raise LoopFailed(f"training failed: {run.error}\n{run.log[-1500:]}")
    evaluation = run.model_version.evaluations.order_by("-id").first()
    report.gate = evaluation.decision if evaluation is not None else {}
    say(f"candidate {run.model_version.name} v{run.model_version.version} ({run.model_version.sha256[:12]}) in "
        f"{report.training['minutes']} min; gate on the dataset's test split: {report.gate.get('reason', '—')}")
    return run


def _compare(config: LoopConfig, run: TrainingRun, report: LoopReport, say: Callable[[str], None]) -> None:
    from activelearning.registry.prelabels import local_model_path

    candidate = run.model_version
    assert candidate is not None
    champion = ModelVersion.objects.get(project_id=run.project_id, status="champion")
    frames = _eval_sets(config)
    report.before = _evaluate(Detector(local_model_path(champion)), frames, champion.conf_threshold)
    report.after = _evaluate(Detector(local_model_path(candidate)), frames, candidate.conf_threshold)
    say("")
    say(f"{'slice':34s} {'frames':>6s} {'mAP@0.5 before':>15s} {'after':>7s} {'count MAE before':>17s} {'after':>7s}")
    for name, before, after in _slice_rows(report.before, report.after):
        say(f"{name:34s} {before['images']:6d} {_f(before['map50']):>15s} {_f(after['map50']):>7s} "
            f"{before['count_mae']:17.2f} {after['count_mae']:7.2f}")
    say("")


def _slice_rows(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    rows = [("all", before, after)]
    for dimension, values in before["slices"].items():
        for value, sub in values.items():
            rows.append((f"{dimension}: {value}", sub, after["slices"][dimension][value]))
    return rows


def _f(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _field_gain(report: LoopReport) -> tuple[float, float]:
    b, a = report.before["slices"]["field"], report.after["slices"]["field"]
    return a[FIELD]["map50"] - b[FIELD]["map50"], a[ORDINARY]["map50"] - b[ORDINARY]["map50"]


def _promote_and_deliver(config: LoopConfig, run: TrainingRun, admin: Client, device_client: Client, device: Device,
                         report: LoopReport, say: Callable[[str], None]) -> None:
    candidate = run.model_version
    assert candidate is not None
    hard_gain, ordinary_gain = _field_gain(report)
    tolerance = TrainerConfig.objects.get(project_id=run.project_id).slice_tolerance
    wins = hard_gain > 0 and ordinary_gain > -tolerance
    say(f"field slice mAP@0.5 {hard_gain:+.3f}, ordinary {ordinary_gain:+.3f} (tolerance {tolerance})")
    if config.approve != "always" and not wins:
        say("the candidate does not win on the field slice: it stays a candidate (no promotion)")
        return
    _expect(admin.post(f"/api/v1/models/{candidate.pk}/promote", data=b'{"to": "champion"}',
                       content_type="application/json"), {200}, "promote")
    report.promoted = True
    current = _expect(device_client.get("/api/v1/models/current"), {200}, "models/current").json()
    blob = b"".join(_expect(device_client.get(current["url"]), {200}, "model file").streaming_content)
    if hashlib.sha256(blob).hexdigest() != candidate.sha256:
        raise LoopFailed("the device downloaded a file that is not the new champion")
    _expect(device_client.post("/api/v1/heartbeat", data=orjson.dumps({"model_sha256": current["sha256"],
                                                                        "software_version": "loop-demo"}),
                               content_type="application/json"), {200}, "heartbeat")
    device.refresh_from_db()
    report.device_model = device.model_sha256
    say(f"promoted by loop-admin; the device downloaded {len(blob)} bytes and reports model {device.model_sha256[:12]}")
