"""Routing policy v1: scores with visible parts, rules as data, audit sampling, caps, versions."""

from __future__ import annotations

import hashlib
import math

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from activelearning.routing.models import RoutingPolicy
from activelearning.routing.policy import (
    DEFAULT_POLICY,
    EventFacts,
    PolicyInvalid,
    route_event,
    uncertainty_signals,
    validate_policy,
)
from activelearning.routing.services import save_policy
from annotations.models import AuditEvent, Membership
from reviewer.models import ReviewItem
from tests.factories import jpeg_bytes, make_device_kit, prediction_event


def facts(scores=(0.5,), labels=None, reason=None, event_type="prediction", brightness=0.5, blur=500.0,
          key="k") -> EventFacts:
    return EventFacts(event_type=event_type, device_reason=reason, scores=list(scores),
                      labels=list(labels or ["person"] * len(scores)), site="Main St", brightness=brightness,
                      blur=blur, sample_key=key)


def policy(**changes) -> dict:
    doc = {**DEFAULT_POLICY, "audit_sample_rate": 0.0, **changes}
    validate_policy(doc)
    return doc


# --- pure scoring -----------------------------------------------------------------------------------

def test_uncertainty_signals_peak_at_half_and_vanish_at_certainty():
    half = uncertainty_signals([0.5])
    assert half == {"least_confidence": 0.5, "margin": 1.0, "entropy": 1.0}
    sure = uncertainty_signals([1.0])
    assert sure == {"least_confidence": 0.0, "margin": 0.0, "entropy": 0.0}
    # The most uncertain box drives the event.
    assert uncertainty_signals([0.99, 0.5])["entropy"] == 1.0
    assert uncertainty_signals([0.9])["entropy"] == pytest.approx(-(0.9 * math.log2(0.9) + 0.1 * math.log2(0.1)))


def test_priority_is_the_weighted_sum_of_its_parts():
    decision = route_event(policy(), facts(scores=[0.4], reason="low_confidence"))
    parts = decision.parts
    summed = sum(parts[k] for k in ("least_confidence", "margin", "entropy", "device_reason", "quality"))
    assert decision.priority == pytest.approx(summed)
    assert parts["device_reason"] == pytest.approx(0.3 * 0.6)
    assert parts["signals"]["min_score"] == 0.4
    assert decision.queue and decision.reason == "low_confidence"


def test_confident_event_is_not_queued():
    decision = route_event(policy(), facts(scores=[0.97, 0.95]))
    assert not decision.queue
    assert decision.priority < DEFAULT_POLICY["min_priority"]


def test_dark_or_blurry_frames_score_higher():
    bright = route_event(policy(), facts(scores=[0.9], brightness=0.6, blur=400.0))
    dark = route_event(policy(), facts(scores=[0.9], brightness=0.05, blur=400.0))
    blurry = route_event(policy(), facts(scores=[0.9], brightness=0.6, blur=5.0))
    assert bright.parts["quality"] == 0
    assert dark.parts["quality"] > 0 and blurry.parts["quality"] > 0
    assert dark.priority > bright.priority and blurry.priority > bright.priority


def test_rule_on_class_and_confidence_band_queues_and_boosts():
    doc = policy(rules=[{"name": "crowd check", "when": {"classes": ["person"], "confidence_band": [0.8, 0.9],
                                                         "min_detections": 3}, "boost": 0.05}])
    matched = route_event(doc, facts(scores=[0.85, 0.99, 0.99]))
    assert matched.queue and matched.reason == "policy_rule"
    assert matched.parts["rules"] == {"crowd check": 0.05}
    assert not route_event(doc, facts(scores=[0.85, 0.99])).queue  # too few detections
    assert not route_event(doc, facts(scores=[0.95, 0.99, 0.99])).queue  # outside the band


def test_skip_rule_wins_over_uncertainty():
    doc = policy(rules=[{"name": "ignore site", "when": {"sites": ["Main St"]}, "action": "skip"}])
    assert not route_event(doc, facts(scores=[0.5], reason="low_confidence")).queue


def test_dispute_is_always_queued():
    decision = route_event(policy(), facts(scores=[0.99], event_type="dispute"))
    assert decision.queue and decision.reason == "disputed" and decision.exempt_from_caps


def test_audit_sample_is_deterministic_per_event_and_near_the_rate():
    doc = policy(audit_sample_rate=0.1)
    picks = [route_event(doc, facts(scores=[0.99], key=f"dev:{i}")).queue for i in range(5000)]
    assert 0.08 < sum(picks) / 5000 < 0.12
    again = [route_event(doc, facts(scores=[0.99], key=f"dev:{i}")).queue for i in range(5000)]
    assert picks == again
    sampled = next(i for i, p in enumerate(picks) if p)
    assert route_event(doc, facts(scores=[0.99], key=f"dev:{sampled}")).reason == "audit_sample"


@pytest.mark.parametrize(("document", "path"), [
    ({"weights": {}, "min_priority": 2, "audit_sample_rate": 0}, "/min_priority"),
    ({"weights": {"bogus": 1}, "min_priority": 0.3, "audit_sample_rate": 0}, "/weights"),
    ({"weights": {}, "min_priority": 0.3}, "/"),
    ({"weights": {}, "min_priority": 0.3, "audit_sample_rate": 0,
      "rules": [{"name": "x", "when": {"confidence_band": [0.9, 0.1]}}]}, "/rules/0/when/confidence_band"),
    ({"weights": {}, "min_priority": 0.3, "audit_sample_rate": 0, "caps": {"per_day": -1}}, "/caps/per_day"),
    ("not a document", "/"),
])
def test_invalid_policy_documents_name_the_offending_path(document, path):
    with pytest.raises(PolicyInvalid) as info:
        validate_policy(document)
    assert path in [e["path"] for e in info.value.errors]


def test_default_policy_is_valid():
    validate_policy(DEFAULT_POLICY)


# --- through ingest ---------------------------------------------------------------------------------

@pytest.fixture
def asset(kit) -> str:
    body = jpeg_bytes()
    assert kit.put_media(body).status_code == 201
    return hashlib.sha256(body).hexdigest()


@pytest.mark.django_db
def test_item_records_the_policy_version_that_queued_it(kit, asset):
    kit.post_events([prediction_event("a", asset)])
    assert ReviewItem.objects.get().policy_version is None  # built-in default
    save_policy(project=kit.project, document=policy(min_priority=0.1), user=None)
    save_policy(project=kit.project, document=policy(min_priority=0.2), user=None)
    kit.post_events([prediction_event("b", asset)])
    assert ReviewItem.objects.get(prediction__event_id="b").policy_version == 2
    assert AuditEvent.objects.filter(action="policy.saved").count() == 2


@pytest.mark.django_db
def test_per_site_daily_cap_keeps_the_highest_priority_items(kit, asset):
    save_policy(project=kit.project, document=policy(caps={"per_site_per_day": 3}), user=None)
    events = [prediction_event(f"e{i}", asset, score=s) for i, s in enumerate([0.45, 0.5, 0.3, 0.6, 0.4])]
    out = kit.post_events(events).json()["results"]
    assert all(r["status"] == "created" for r in out)  # over-budget events are still stored
    queued = {r["id"] for r in out if "review_item" in r}
    assert queued == {"e1", "e0", "e4"}  # the three most uncertain (closest to 0.5)
    out = kit.post_events([prediction_event("later", asset, score=0.5)]).json()["results"]
    assert "review_item" not in out[0]
    # Disputes are exempt from caps: a person must settle them.
    out = kit.post_events([prediction_event("d", asset, type="dispute", reason="disputed")]).json()["results"]
    assert "review_item" in out[0]


@pytest.mark.django_db
def test_caps_count_each_site_separately(kit, asset):
    save_policy(project=kit.project, document=policy(caps={"per_site_per_day": 1}), user=None)
    other = make_device_kit(project=kit.project, site="Harbour", camera="door-2")
    kit.post_events([prediction_event("a", asset), prediction_event("b", asset)])
    other.post_events([prediction_event("a", asset, camera="door-2")])
    assert ReviewItem.objects.filter(site=kit.device.site).count() == 1
    assert ReviewItem.objects.filter(site=other.device.site).count() == 1


# --- the admin endpoint -----------------------------------------------------------------------------

@pytest.fixture
def people(kit):
    alice = User.objects.create_user("alice", password="pw-alice-123")
    admin = User.objects.create_user("dana", password="pw-dana-123")
    User.objects.create_user("charlie", password="pw-charlie-123")
    Membership.objects.create(project=kit.project, user=alice, role="annotator")
    Membership.objects.create(project=kit.project, user=admin, role="admin")
    return kit.project


def api_as(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    return client


@pytest.mark.django_db
def test_member_reads_the_policy_in_force(people):
    response = api_as("alice").get(f"/api/v1/projects/{people.pk}/routing-policy")
    assert response.status_code == 200
    assert response.json()["version"] is None
    assert response.json()["document"] == DEFAULT_POLICY


@pytest.mark.django_db
def test_admin_saves_a_new_version(people):
    response = api_as("dana").put(f"/api/v1/projects/{people.pk}/routing-policy",
                                  {"document": policy(min_priority=0.5)}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 1
    assert RoutingPolicy.objects.get().created_by.username == "dana"


@pytest.mark.django_db
def test_annotator_cannot_edit_the_policy(people):
    response = api_as("alice").put(f"/api/v1/projects/{people.pk}/routing-policy",
                                   {"document": policy()}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert RoutingPolicy.objects.count() == 0


@pytest.mark.django_db
def test_outsider_gets_404(people):
    response = api_as("charlie").get(f"/api/v1/projects/{people.pk}/routing-policy")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_anonymous_gets_401(people):
    response = APIClient().get(f"/api/v1/projects/{people.pk}/routing-policy")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_invalid_policy_is_422_with_paths_and_stores_nothing(people):
    response = api_as("dana").put(f"/api/v1/projects/{people.pk}/routing-policy",
                                  {"document": {"weights": {}, "min_priority": 7, "audit_sample_rate": 0}},
                                  format="json")
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "invalid_policy"
    assert "/min_priority" in [e["path"] for e in body["details"]["errors"]]
    assert RoutingPolicy.objects.count() == 0
