"""The alert rules alone (activelearning/alerts/rules.py): plain rows in, violations out, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activelearning.alerts import rules
from activelearning.metrics import psi

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def device(**fields):
    return {"id": 1, "project_id": 1, "site_id": 1, "label": "box-1", "last_seen_at": NOW, "created_at": NOW,
            "fps": 15.0, "inference_fps": 15.0, "disk_free_bytes": 50, "disk_total_bytes": 100,
            "outbox_depth": 0, "outbox_oldest_age_seconds": 0.0, **fields}


def test_a_device_never_heard_from_alerts_once_older_than_the_threshold_since_its_creation():
    params = {1: {"minutes": 10}}
    young = device(last_seen_at=None, created_at=NOW - timedelta(minutes=5))
    old = device(id=2, last_seen_at=None, created_at=NOW - timedelta(minutes=15))
    assert [v.subject_id for v in rules.silent_devices([young, old], params, NOW)] == [2]


def test_a_project_without_the_rule_enabled_never_alerts():
    assert rules.silent_devices([device(last_seen_at=NOW - timedelta(days=1))], {}, NOW) == []


def test_thresholds_are_inclusive_where_the_docs_say_reaches():
    assert rules.devices_with_backlog([device(outbox_oldest_age_seconds=600.0)], {1: {"minutes": 10}})
    assert not rules.devices_low_on_disk([device(disk_free_bytes=10)], {1: {"free_percent": 10}})
    assert rules.devices_low_on_disk([device(disk_free_bytes=9)], {1: {"free_percent": 10}})
    assert not rules.devices_behind([device(fps=0.0, inference_fps=0.0)], {1: {"ratio": 0.8}})  # no frames: not behind


def test_a_site_psi_pools_its_cameras_and_needs_enough_boxes_in_each_window():
    ref, cur = [10, 10, 0, 0], [0, 0, 10, 10]
    states = [{"project_id": 1, "site_id": 5, "site_label": "Main St", "histogram_reference": ref,
               "histogram_current": cur} for _ in range(3)]
    assert rules.sites_over_psi(states, {1: {"threshold": 0.2, "min_boxes": 61}}, psi) == []
    [site] = rules.sites_over_psi(states, {1: {"threshold": 0.2, "min_boxes": 60}}, psi)
    assert (site.subject_type, site.subject_id) == ("site", 5) and site.value["psi"] > 0.2


def test_validate_params_merges_over_the_defaults_and_names_each_bad_threshold():
    assert rules.validate_params(rules.NO_HEARTBEAT, {}) == ({"minutes": 10}, {})
    assert rules.validate_params(rules.DRIFT_PSI_SITE, {"threshold": 0.5}) == (
        {"threshold": 0.5, "min_boxes": 200}, {})
    _, errors = rules.validate_params(rules.NO_HEARTBEAT, {"minutes": True, "hours": 1})
    assert set(errors) == {"minutes", "hours"}
    _, errors = rules.validate_params(rules.INFERENCE_BEHIND, {"ratio": float("nan")})
    assert set(errors) == {"ratio"}
    assert rules.validate_params(rules.NO_HEARTBEAT, [1])[1] == {"params": ["An object of thresholds is expected."]}
