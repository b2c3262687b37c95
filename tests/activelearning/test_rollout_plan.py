"""The rollout rules alone (activelearning/rollouts/plan.py: no Django)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activelearning.rollouts import plan


def test_the_bucket_is_stable_and_spreads_devices_evenly():
    assert plan.bucket(7, 42) == plan.bucket(7, 42)
    places = [plan.bucket(1, d) for d in range(4000)]
    assert all(0 <= p < 100 for p in places)
    assert 0.45 < sum(p < 50 for p in places) / 4000 < 0.55
    assert [plan.bucket(2, d) for d in range(20)] != places[:20]  # another rollout, another draw


def test_stages_are_cumulative():
    stages = [{"devices": ["a"]}, {"sites": [3]}, {"percent": 100}]
    member = lambda index, **kw: plan.in_stage(stages, index, rollout_id=1, device_id=9, **kw)  # noqa: E731
    assert member(0, device_name="a", site_id=1) and member(2, device_name="a", site_id=1)
    assert not member(0, device_name="b", site_id=3) and member(1, device_name="b", site_id=3)
    assert member(2, device_name="c", site_id=5)


@pytest.mark.parametrize("stages, gates, where", [
    ([], [], "stages"),
    ([{"percent": 30}, {"percent": 30}], [], "stages"),
    ([{"percent": 101}], [], "stages"),
    ([{"percent": True}], [], "stages"),
    ([{"percent": 10, "soak_minutes": -0.5}], [], "stages"),
    ([{"percent": 10, "colour": "red"}], [], "stages"),
    ([{"percent": 10}], [{"metric": "nope", "tolerance": 1}], "gates"),
    ([{"percent": 10}], [{"metric": "crashes"}], "gates"),
    ([{"percent": 10}], "crashes", "gates"),
])
def test_impossible_plans_name_the_field(stages, gates, where):
    assert where in plan.validate_plan(stages, gates)


def test_a_good_plan_has_no_errors():
    assert plan.validate_plan([{"devices": ["a"], "soak_minutes": 30}, {"percent": 10}, {"percent": 100}],
                              [{"metric": "inference_ms_p95", "comparison": "ratio", "tolerance": 0.2}]) == {}


def test_gates_and_the_decision():
    ratio = {"metric": "inference_ms_p95", "comparison": "ratio", "tolerance": 0.2}
    delta = {"metric": "crashes", "comparison": "delta", "tolerance": 1}
    assert plan.judge(ratio, candidate=47, champion=40).verdict == "pass"
    assert plan.judge(ratio, candidate=49, champion=40).verdict == "fail"
    assert plan.judge(ratio, candidate=None, champion=40).verdict == "no_data"
    assert plan.judge(ratio, candidate=80, champion=None).verdict == "pass"
    assert plan.judge(delta, candidate=2, champion=1).verdict == "pass"
    assert plan.judge(delta, candidate=3, champion=1).verdict == "fail"
    assert plan.judge(delta, candidate=3, champion=None).verdict == "fail"
    ok, bad = plan.judge(ratio, candidate=40, champion=40), plan.judge(ratio, candidate=90, champion=40)
    assert plan.decide([ok], soak_done=False, last_stage=False) == "wait"
    assert plan.decide([bad], soak_done=False, last_stage=False) == "halt"
    assert plan.decide([ok], soak_done=True, last_stage=False) == "advance"
    assert plan.decide([ok], soak_done=True, last_stage=True) == "complete"
    assert plan.decide([plan.judge(ratio, candidate=None, champion=1)], soak_done=True, last_stage=True) == "wait"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert plan.soaked(start, 30, start + timedelta(minutes=30)) and not plan.soaked(start, 30, start)


def test_the_runtime_check():
    assert plan.runtime_allows(19, None) and plan.runtime_allows(None, {"opset": 11})
    assert plan.runtime_allows(17, {"opset": 17}) and not plan.runtime_allows(18, {"opset": 17})
    assert plan.runtime_allows(18, {"onnxruntime": "1.17.1"})  # no opset reported: as today
