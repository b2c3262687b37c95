"""Which model a device runs: pin > the active rollout's stage > champion, never a model stamped with a newer opset
than the device's runtime reported (then the newest earlier champion it can run). Every heartbeat answer and every
poll of `GET /models/current` asks this, so it is one hand-written statement and a per-process cache of the parts
of a model version that never change after upload. The rules themselves are in `plan.py`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection

from activelearning.registry.models import ModelStatus, ModelVersion
from activelearning.registry.services import model_payload
from activelearning.rollouts import plan
from activelearning.rollouts.models import ACTIVE, ModelPin, Rollout
from annotations.models import Device


@cache
def _decision_sql() -> str:
    pin, rollout, model = (m._meta.db_table for m in (ModelPin, Rollout, ModelVersion))
    return f"""
        SELECT (SELECT model_id FROM {pin} WHERE device_id = %s LIMIT 1),
               (SELECT model_id FROM {pin} WHERE site_id = %s LIMIT 1),
               r.id, r.model_id, r.stage_index, r.stages,
               (SELECT id FROM {model} WHERE project_id = %s AND status = %s ORDER BY id LIMIT 1)
        FROM (SELECT 1 AS one) AS anchor
        LEFT JOIN (SELECT id, model_id, stage_index, stages FROM {rollout}
                   WHERE project_id = %s AND status IN (%s, %s) ORDER BY id LIMIT 1) AS r ON 1 = 1"""  # noqa: S608 (our tables; values are parameters)


def _decision_facts(device: Device) -> dict[str, Any]:
    """What the per-device decision reads that can change (the device's and its site's pins, the active rollout,
    the champion) as ids, in one statement: every heartbeat answer and every poll of the fleet asks this, and an
    ORM query with these subqueries costs ten times its SQL's time to compile (annotations/rows.py)."""
    with connection.cursor() as cursor:
        cursor.execute(_decision_sql(), [device.pk, device.site_id, device.project_id, ModelStatus.CHAMPION,
                                         device.project_id, *ACTIVE])
        device_pin, site_pin, rollout_id, rollout_model, stage, stages, champion = cursor.fetchone()
    if isinstance(stages, str):  # JSON arrives as text from both backends as Django configures them
        stages = json.loads(stages)
    return {"device_pin": device_pin, "site_pin": site_pin, "rollout_id": rollout_id, "rollout_model": rollout_model,
            "rollout_stage": stage, "rollout_stages": stages, "champion": champion}


@dataclass(frozen=True)
class _Offer:
    """The parts of a model version that never change after upload: what a device is told, and its opset."""

    opset: int | None
    payload: dict[str, Any]


_OFFERS: dict[int, _Offer] = {}  # by model id, per process; a project keeps tens of versions, not millions


def _offer(model_id: int) -> _Offer:
    offer = _OFFERS.get(model_id)
    if offer is None:
        model = ModelVersion.objects.only("name", "version", "sha256", "size_bytes", "input_width",
                                          "input_height", "classes", "opset").get(pk=model_id)
        offer = _OFFERS[model_id] = _Offer(model.opset, model_payload(model))
    return offer


def forget_offers() -> None:
    """For tests: an embedded database can hand a rolled-back model's id to the next test's model."""
    _OFFERS.clear()


def desired_model_for(device: Device) -> dict[str, Any] | None:
    """The model `device` should run, as it is told to fetch it (a fresh dict: callers may add to it): pin > the
    active rollout's stage > champion; never a model needing a newer opset than the device reported (then the
    newest earlier champion it can run, or None)."""
    offer = _choose(device)
    return dict(offer.payload) if offer is not None else None


def _choose(device: Device) -> _Offer | None:
    runtime = device.runtime or {}
    facts = _decision_facts(device)
    for pinned in (facts.get("device_pin"), facts.get("site_pin")):
        if pinned is not None and plan.runtime_allows(_offer(pinned).opset, runtime):
            return _offer(pinned)
    rollout_model = facts.get("rollout_model")
    if (rollout_model is not None and plan.runtime_allows(_offer(rollout_model).opset, runtime)
            and plan.in_stage(facts["rollout_stages"], facts["rollout_stage"], rollout_id=facts["rollout_id"],
                              device_id=device.pk, device_name=device.name, site_id=device.site_id)):
        return _offer(rollout_model)
    champion = facts.get("champion")
    if champion is None or plan.runtime_allows(_offer(champion).opset, runtime):
        return _offer(champion) if champion is not None else None
    # The champion is too new for this device's runtime: walk back through earlier champions (a chain is short).
    candidate = ModelVersion.objects.filter(pk=champion).values_list("replaces_id", flat=True).first()
    for _ in range(10):
        if candidate is None:
            return None
        if plan.runtime_allows(_offer(candidate).opset, runtime):
            return _offer(candidate)
        candidate = ModelVersion.objects.filter(pk=candidate).values_list("replaces_id", flat=True).first()
    return None


