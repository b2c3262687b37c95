"""The promotion gate for a trained candidate (DESIGN.md, "Retraining"): shadow-evaluate it against the
champion on the dataset version's test split, overall and per slice, and promote it only on an admin's
approval — or by itself when the project allows auto-promote and the candidate wins overall by the margin
while no slice loses more than the tolerance."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from activelearning.registry.evaluation import run_evaluation, start_evaluation
from activelearning.registry.models import ModelEvaluation, ModelStatus, ModelVersion
from activelearning.registry.services import promote_model
from activelearning.training.models import TrainerConfig, TrainingRun
from annotations import audit
from reviewer import realtime


def decide(report: dict[str, Any], config: TrainerConfig) -> dict[str, Any]:
    """Whether the candidate may promote itself, and why (mAP@0.5 overall and per slice)."""
    candidate, champion = report.get("candidate") or {}, report.get("champion")
    if champion is None:
        return {"auto_promote": False, "reason": "no champion to compare with: an admin decides"}
    frames = report.get("frames") or {}
    if frames.get("too_few"):
        return {"auto_promote": False, "reason": f"too few test frames to compare (n={frames.get('count')}, "
                                                 f"at least {frames.get('min_for_comparison')}): an admin decides"}
    cand_map, champ_map = candidate.get("map50"), champion.get("map50")
    if cand_map is None or champ_map is None:
        return {"auto_promote": False, "reason": "the test split has no ground truth"}
    regressions = []
    for dimension, values in (candidate.get("slices") or {}).items():
        for value, sub in values.items():
            before = ((champion.get("slices") or {}).get(dimension) or {}).get(value) or {}
            if (sub.get("map50") is not None and before.get("map50") is not None
                    and before["map50"] - sub["map50"] > config.slice_tolerance):
                regressions.append({"slice": dimension, "value": value, "candidate": sub["map50"],
                                    "champion": before["map50"]})
    wins = cand_map - champ_map >= config.promote_margin
    verdict = {"overall": {"candidate": cand_map, "champion": champ_map, "margin": config.promote_margin},
               "regressions": regressions, "wins": wins}
    if not config.auto_promote:
        return {**verdict, "auto_promote": False, "reason": "auto-promote is off: an admin decides"}
    if not wins:
        return {**verdict, "auto_promote": False, "reason": "the candidate does not win by the margin"}
    if regressions:
        return {**verdict, "auto_promote": False, "reason": "a slice regresses beyond the tolerance"}
    return {**verdict, "auto_promote": True, "reason": "wins overall, no slice regresses"}


def gate_candidate(*, model_id: int, run_id: int | None = None) -> ModelEvaluation:
    model = ModelVersion.objects.select_related("project").get(pk=model_id)
    run = TrainingRun.objects.filter(pk=run_id).first() if run_id is not None else None
    evaluation = start_evaluation(model=model, user=None,
                                  dataset_version_id=run.dataset_version_id if run else model.dataset_version_id)
    evaluation = run_evaluation(evaluation_id=evaluation.pk)
    config = TrainerConfig.objects.get_or_create(project_id=model.project_id)[0]
    decision = decide(evaluation.report, config) if evaluation.status == "done" else {
        "auto_promote": False, "reason": f"the evaluation failed: {evaluation.error}"}
    with transaction.atomic():
        ModelEvaluation.objects.filter(pk=evaluation.pk).update(decision=decision)
        audit.record(action="model.gated", obj_type="model_version", obj_id=model.pk, project_id=model.project_id,
                     after={"evaluation": evaluation.pk, **{k: decision[k] for k in ("auto_promote", "reason")}})
        if decision["auto_promote"]:
            promote_model(model=model, user=None, to=ModelStatus.CHAMPION)
        else:
            realtime.publish(project_id=model.project_id, message={
                "type": "training.status", "state": "awaiting_approval", "model": model.pk,
                "reason": decision["reason"]})
    evaluation.decision = decision
    return evaluation
