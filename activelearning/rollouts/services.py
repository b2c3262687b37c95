"""Staged rollouts: start one, evaluate its gates, move it on or halt it, the admin's actions and pins
(docs/rollouts.md). The rules themselves are in `plan.py`; which model a device runs is `decision.py`.

Every state change locks the rollout row (`select_for_update`) and re-reads it, so two evaluators (two beat runs,
two workers) or an evaluator and an admin cannot both move the same stage: the second sees the first's result
and does nothing. The change, its audit event and its domain event (a webhook outbox row) are one transaction
with no network I/O inside; a server killed mid-change leaves the stage as it was or as it became, never half.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.models import User as Account
from django.db import IntegrityError, transaction
from django.db.models import Avg, Case, Count, F, FloatField, Max, Min, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from activelearning.health.models import DeviceTelemetry
from activelearning.metrics import confidence_histogram, psi
from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.registry.services import champion_of, promote_model, rollback_champion
from activelearning.rollouts import plan
from activelearning.rollouts.models import ACTIVE, ModelPin, Rollout, RolloutStatus
from annotations import audit, events
from annotations.errors import Conflict, InvalidInput, NotFound
from annotations.models import Device, Prediction, PredictionSource, Project, Site
from reviewer.models import CountFlag

User = AbstractBaseUser | AnonymousUser


class RolloutConflict(Conflict):
    code = "rollout_conflict"


def _account(user: User | None) -> Account | None:
    """The person to store as creator/approver (none for the beat job or an anonymous caller)."""
    return user if isinstance(user, Account) else None


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, details={field: [message]})


# --- starting a rollout ---------------------------------------------------------------------------------------


def start_rollout(*, model: ModelVersion, user: User | None, stages: Any, gates: Any,
                  now: datetime | None = None) -> Rollout:
    """A staged promotion of `model`: 400 beside the field for a bad plan (nothing stored), 409 if the model
    cannot be promoted, the project has no champion to compare with, or another rollout is active."""
    errors = plan.validate_plan(stages, gates)
    if errors:
        raise InvalidInput("The rollout plan is not valid.", details=errors)
    _check_cohorts(model.project_id, stages)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            model = ModelVersion.objects.select_for_update().get(pk=model.pk)
            if model.status not in (ModelStatus.CANDIDATE, ModelStatus.SHADOW) or model.out_of_service:
                raise RolloutConflict(f"A {model.status} model cannot be rolled out.",
                                      details={"status": model.status, "out_of_service": model.out_of_service})
            champion = champion_of(model.project_id)
            if champion is None:
                raise RolloutConflict("The project has no champion to roll out against; promote it directly.",
                                      code="no_champion")
            rollout = Rollout.objects.create(
                project_id=model.project_id, model=model, previous=champion, stages=stages, gates=gates,
                stage_started_at=now, created_by=_account(user))
            audit.record(action="rollout.started", obj_type="rollout", obj_id=rollout.pk,
                         project_id=model.project_id, actor=user,
                         after={"model": model.pk, "previous": champion.pk, "stages": stages, "gates": gates})
            return rollout
    except IntegrityError as exc:
        # The constraint is the guard against a race; its name is not in SQLite's message, so ask what is there.
        if Rollout.objects.filter(project_id=model.project_id, status__in=ACTIVE).exists():
            raise RolloutConflict("Another rollout of this project is still active.", code="rollout_active") from exc
        raise


def _check_cohorts(project_id: int, stages: list[dict[str, Any]]) -> None:
    """Named devices and sites must be the project's (400 beside the stage's field)."""
    details: dict[str, Any] = {}
    names = {n for s in stages for n in s.get("devices", [])}
    sites = {i for s in stages for i in s.get("sites", [])}
    known_names = set(Device.objects.filter(project_id=project_id, name__in=names).values_list("name", flat=True))
    known_sites = set(Site.objects.filter(project_id=project_id, pk__in=sites).values_list("pk", flat=True))
    for index, stage in enumerate(stages):
        problems = {}
        if unknown := sorted(set(stage.get("devices", [])) - known_names):
            problems["devices"] = [f"Not devices of this project: {', '.join(unknown)}."]
        if unknown_sites := sorted(set(stage.get("sites", [])) - known_sites):
            problems["sites"] = [f"Not sites of this project: {', '.join(map(str, unknown_sites))}."]
        if problems:
            details[str(index)] = problems
    if details:
        raise InvalidInput("The rollout plan names devices or sites the project does not have.",
                           details={"stages": details})


# --- gates ----------------------------------------------------------------------------------------------------


def gate_figures(rollout: Rollout, *, since: datetime) -> dict[str, tuple[float | None, float | None]]:
    """Each metric for (the devices running the rollout's model, those running the champion) since `since`;
    None where no device of the group reported. Groups follow what each device says it runs."""
    candidate = rollout.model.sha256
    champion = rollout.previous.sha256 if rollout.previous else ""
    groups = (candidate, champion)
    figures: dict[str, dict[str, float | None]] = defaultdict(lambda: dict.fromkeys(groups))
    samples = DeviceTelemetry.objects.filter(device__project_id=rollout.project_id, received_at__gte=since,
                                             model_sha256__in=groups)
    lag = Case(When(fps__gt=0, inference_fps__isnull=False,
                    then=Greatest(Value(0.0), Value(1.0) - F("inference_fps") / F("fps"))),
               default=None, output_field=FloatField())
    for row in samples.values("model_sha256").annotate(p50=Avg("inference_ms_p50"), p95=Avg("inference_ms_p95"),
                                                       lag=Avg(lag)):
        figures["inference_ms_p50"][row["model_sha256"]] = row["p50"]
        figures["inference_ms_p95"][row["model_sha256"]] = row["p95"]
        figures["inference_lag"][row["model_sha256"]] = row["lag"]
    crashes: dict[str, list[float]] = defaultdict(list)
    for device_row in (samples.filter(crashes__isnull=False).values("device_id", "model_sha256")
                       .annotate(hi=Max("crashes"), lo=Min("crashes"))):
        crashes[device_row["model_sha256"]].append(float(device_row["hi"] - device_row["lo"]))
    for sha, per_device in crashes.items():
        figures["crashes"][sha] = sum(per_device) / len(per_device)
    predictions = (Prediction.objects.filter(project_id=rollout.project_id, received_at__gte=since,
                                             event_type="prediction", model_sha256__in=groups)
                   .values("model_sha256").annotate(total=Count("id"), low=Count("id", filter=Q(reason="low_confidence"))))
    for counted in predictions:
        figures["low_confidence_rate"][counted["model_sha256"]] = (counted["low"] / counted["total"]
                                                                   if counted["total"] else None)
    if candidate and champion:
        figures["confidence_drift"][candidate], figures["confidence_drift"][champion] = _confidence_drift(
            rollout.project_id, candidate=candidate, champion=champion, since=since)
    for sha in groups:
        devices = list(Device.objects.filter(project_id=rollout.project_id, model_sha256=sha)
                       .values_list("pk", flat=True))
        if devices and sha:
            flags = CountFlag.objects.filter(created_at__gte=since, camera__device_id__in=devices).count()
            figures["count_flag_rate"][sha] = flags / len(devices)
    return {metric: (figures[metric][candidate], figures[metric][champion]) for metric in plan.METRICS}


DRIFT_SAMPLE = 5000  # latest device predictions per model read for the confidence histograms
DRIFT_MIN_SCORES = 50  # fewer box scores than this on the canary is "no data yet", not a verdict


def _box_scores(project_id: int, sha256: str, since: datetime | None) -> list[float]:
    rows = Prediction.objects.filter(project_id=project_id, model_sha256=sha256, source=PredictionSource.DEVICE)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    scores: list[float] = []
    for detections in rows.order_by("-received_at").values_list("detections", flat=True)[:DRIFT_SAMPLE]:
        if isinstance(detections, list):
            scores.extend(float(d["score"]) for d in detections
                          if isinstance(d, dict) and isinstance(d.get("score"), int | float))
    return scores


def _confidence_drift(project_id: int, *, candidate: str, champion: str,
                      since: datetime) -> tuple[float | None, float | None]:
    """(PSI of the canary's box scores since the stage began against the champion's, 0 for the champion). The
    champion's reference is its latest predictions whenever they came, so a stage at 100 % still has one."""
    canary = _box_scores(project_id, candidate, since)
    reference = _box_scores(project_id, champion, None)
    if len(canary) < DRIFT_MIN_SCORES or len(reference) < DRIFT_MIN_SCORES:
        return None, None
    return psi(confidence_histogram(reference), confidence_histogram(canary)), 0.0


def _judge_all(rollout: Rollout, now: datetime) -> list[plan.GateResult]:
    figures = gate_figures(rollout, since=rollout.stage_started_at)
    del now  # the window is "since the stage started"; kept for a future upper bound
    return [plan.judge(gate, candidate=figures[gate["metric"]][0], champion=figures[gate["metric"]][1])
            for gate in rollout.gates]


# --- moving a rollout -----------------------------------------------------------------------------------------


def evaluate_rollout(rollout_id: int, *, now: datetime | None = None) -> str:
    """One check of a running rollout: halt on a failed gate, move on after the soak when every gate passes,
    otherwise wait. Returns the decision (`wait`, `advance`, `complete`, `halt`, or `idle` if not running)."""
    with transaction.atomic():
        rollout = (Rollout.objects.select_for_update(of=("self",)).select_related("model", "previous")
                   .filter(pk=rollout_id).first())
        if rollout is None or rollout.status != RolloutStatus.RUNNING:
            return "idle"
        now = now or timezone.now()
        stage = rollout.stages[rollout.stage_index]
        results = _judge_all(rollout, now)
        decision = plan.decide(results, soak_done=plan.soaked(rollout.stage_started_at,
                                                              float(stage.get("soak_minutes", 0)), now),
                               last_stage=rollout.stage_index == len(rollout.stages) - 1)
        rollout.last_evaluation = {"at": now.isoformat(), "stage": rollout.stage_index, "decision": decision,
                                   "gates": [r.as_dict() for r in results]}
        rollout.save(update_fields=["last_evaluation"])
        if decision == "halt":
            _halt(rollout, now=now, reason={"gates": [r.as_dict() for r in results if r.verdict == "fail"]})
        elif decision in ("advance", "complete"):
            _advance(rollout, now=now, user=None, reason="gates passed")
        return decision


def evaluate_active(*, now: datetime | None = None) -> dict[int, str]:
    """Every running rollout once (the beat job); each in its own transaction."""
    ids = list(Rollout.objects.filter(status=RolloutStatus.RUNNING).values_list("pk", flat=True))
    return {pk: evaluate_rollout(pk, now=now) for pk in ids}


def _advance(rollout: Rollout, *, now: datetime, user: User | None, reason: str) -> None:
    before = {"stage": rollout.stage_index, "status": rollout.status}
    if rollout.stage_index >= len(rollout.stages) - 1:
        if rollout.model.status != ModelStatus.CHAMPION:
            promote_model(model=rollout.model, user=_account(user) or rollout.created_by, to=ModelStatus.CHAMPION)
        rollout.status, rollout.finished_at = RolloutStatus.COMPLETED, now
        action = "rollout.completed"
    else:
        rollout.stage_index += 1
        rollout.stage_started_at = now
        action = "rollout.advanced"
    rollout.save(update_fields=["status", "finished_at", "stage_index", "stage_started_at"])
    audit.record(action=action, obj_type="rollout", obj_id=rollout.pk, project_id=rollout.project_id, actor=user,
                 before=before, after={"stage": rollout.stage_index, "status": rollout.status, "reason": reason})


def _halt(rollout: Rollout, *, now: datetime, reason: dict[str, Any]) -> None:
    before = {"stage": rollout.stage_index, "status": rollout.status}
    rollout.status, rollout.finished_at, rollout.halt_reason = RolloutStatus.HALTED, now, reason
    rollout.save(update_fields=["status", "finished_at", "halt_reason"])
    audit.record(action="rollout.halted", obj_type="rollout", obj_id=rollout.pk, project_id=rollout.project_id,
                 before=before, after={"status": rollout.status, "reason": reason})
    events.emit("rollout.halted", project_id=rollout.project_id, rollout=rollout.pk, model=rollout.model_id,
                previous=rollout.previous_id, stage=rollout.stage_index, reason=reason)


ACTIONS = ("pause", "resume", "advance", "abort")


def act(*, rollout_id: int, action: str, user: User, stage: int | None = None,
        now: datetime | None = None) -> Rollout:
    """An admin's pause, resume, advance (past the gates and the soak) or abort. `stage`, when given, must be the
    current stage: a retried or doubled request then does nothing twice (409)."""
    now = now or timezone.now()
    with transaction.atomic():
        rollout = (Rollout.objects.select_for_update(of=("self",)).select_related("model", "previous")
                   .get(pk=rollout_id))
        if stage is not None and stage != rollout.stage_index:
            raise RolloutConflict("The rollout is no longer at that stage.",
                                  details={"stage": rollout.stage_index, "status": rollout.status})
        allowed = {"pause": (RolloutStatus.RUNNING,), "resume": (RolloutStatus.PAUSED,), "advance": ACTIVE,
                   "abort": ACTIVE}[action]
        if rollout.status not in allowed:
            raise RolloutConflict(f"A {rollout.status} rollout cannot {action}.", code="invalid_transition",
                                  details={"status": rollout.status})
        before = {"stage": rollout.stage_index, "status": rollout.status}
        if action == "advance":
            _advance(rollout, now=now, user=user, reason="admin")
            return rollout
        if action == "pause":
            rollout.status = RolloutStatus.PAUSED
        elif action == "resume":
            rollout.status = RolloutStatus.RUNNING
        else:
            rollout.status, rollout.finished_at = RolloutStatus.ABORTED, now
        rollout.save(update_fields=["status", "finished_at"])
        audit.record(action=f"rollout.{action}d" if action != "abort" else "rollout.aborted", obj_type="rollout",
                     obj_id=rollout.pk, project_id=rollout.project_id, actor=user, before=before,
                     after={"stage": rollout.stage_index, "status": rollout.status})
        return rollout


# --- the champion changed by hand -------------------------------------------------------------------------------


def promote_by_hand(*, model: ModelVersion, user: Account, to: str) -> ModelVersion:
    """"Make champion" / "Shadow" without a plan. A champion made by hand ends the active rollout, so its gates
    never compare against a champion that is no longer one: completed when it is the rollout's own model (the
    admin skipped the remaining stages), aborted otherwise. One transaction; the rollout row is locked before
    the models, in the same order as the evaluator's."""
    with transaction.atomic():
        rollout = _locked_active(model.project_id) if to == ModelStatus.CHAMPION else None
        promoted = promote_model(model=model, user=user, to=to)
        if rollout is not None:
            _end_by_hand(rollout, user=user, completed=rollout.model_id == model.pk,
                         reason=f"{model} made champion by hand")
        return promoted


def rollback_by_hand(*, model: ModelVersion, user: Account) -> ModelVersion:
    """Rollback in one action, also during a rollout: the rollout is aborted with it (same transaction)."""
    with transaction.atomic():
        rollout = _locked_active(model.project_id)
        restored = rollback_champion(model=model, user=user)
        if rollout is not None:
            _end_by_hand(rollout, user=user, completed=False, reason=f"champion rolled back to {restored}")
        return restored


def _locked_active(project_id: int) -> Rollout | None:
    return (Rollout.objects.select_for_update(of=("self",)).filter(project_id=project_id, status__in=ACTIVE)
            .first())


def _end_by_hand(rollout: Rollout, *, user: User, completed: bool, reason: str) -> None:
    before = {"stage": rollout.stage_index, "status": rollout.status}
    rollout.status = RolloutStatus.COMPLETED if completed else RolloutStatus.ABORTED
    rollout.finished_at = timezone.now()
    rollout.save(update_fields=["status", "finished_at"])
    audit.record(action=f"rollout.{rollout.status}", obj_type="rollout", obj_id=rollout.pk,
                 project_id=rollout.project_id, actor=user, before=before,
                 after={"stage": rollout.stage_index, "status": rollout.status, "reason": reason})


# --- pins -----------------------------------------------------------------------------------------------------


@transaction.atomic
def pin(*, project: Project, user: User, model_id: int, device_id: int | None = None, site_id: int | None = None,
        note: str = "") -> ModelPin:
    """Hold a device or a site on a model version of the same project (replacing its pin, if any)."""
    if (device_id is None) == (site_id is None):
        raise _field_error("device", "Pin exactly one device or one site.")
    model = ModelVersion.objects.filter(pk=model_id, project=project).first()
    if model is None:
        raise _field_error("model", "Not a model version of this project.")
    if model.out_of_service:
        raise _field_error("model", "This model was taken out of service after failing; it cannot be pinned.")
    if device_id is not None and not Device.objects.filter(pk=device_id, project=project).exists():
        raise _field_error("device", "Not a device of this project.")
    if site_id is not None and not Site.objects.filter(pk=site_id, project=project).exists():
        raise _field_error("site", "Not a site of this project.")
    target = {"device_id": device_id} if device_id is not None else {"site_id": site_id}
    existing = ModelPin.objects.select_for_update().filter(**target).first()
    before = {"model": existing.model_id} if existing else None
    if existing is None:
        existing = ModelPin(project=project, **target)
    existing.model, existing.note = model, note
    existing.created_by = _account(user)
    existing.save()
    audit.record(action="model.pinned", obj_type="model_pin", obj_id=existing.pk, project_id=project.pk, actor=user,
                 before=before, after={"model": model.pk, **target})
    return existing


@transaction.atomic
def unpin(*, pin_id: int, project: Project, user: User) -> None:
    existing = ModelPin.objects.select_for_update().filter(pk=pin_id, project=project).first()
    if existing is None:
        raise NotFound("Not found.")
    audit.record(action="model.unpinned", obj_type="model_pin", obj_id=existing.pk, project_id=project.pk,
                 actor=user, before={"model": existing.model_id, "device_id": existing.device_id,
                                     "site_id": existing.site_id})
    existing.delete()
