"""Routing policy preview: a proposed policy replayed on the project's recent device events beside the one in force."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from activelearning.routing.models import RoutingPolicy
from activelearning.routing.policy import DEFAULT_POLICY, Decision, facts_for_event, validate_policy
from activelearning.routing.preview import Replayed, compare_policies, priority_histogram, summarize
from activelearning.routing.services import save_policy
from annotations.models import AuditEvent, Prediction
from reviewer.models import ReviewItem
from tests.factories import add_member, jpeg_bytes, make_device_kit, prediction_event


def policy(**changes) -> dict:
    doc = {**DEFAULT_POLICY, "audit_sample_rate": 0.0, "caps": {}, **changes}
    validate_policy(doc)
    return doc


def decision(queue: bool, reason: str = "", priority: float = 0.5, exempt: bool = False) -> Decision:
    return Decision(queue=queue, reason=reason if queue else "", priority=priority, exempt_from_caps=exempt)


# --- the pure aggregation -----------------------------------------------------------------------------

def test_priority_histogram_has_ten_bins_and_one_lands_in_the_last():
    assert priority_histogram([0.0, 0.05, 0.1, 0.55, 0.99, 1.0]) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    assert priority_histogram([]) == [0] * 10


def test_summary_counts_queued_by_reason_and_site_and_the_exempt_share():
    decisions = [decision(True, "low_confidence", 0.6), decision(True, "disputed", 0.9, exempt=True),
                 decision(False, priority=0.1), decision(True, "low_confidence", 0.35)]
    summary = summarize(decisions, ["Main St", "Harbour", "Main St", "Harbour"])
    assert summary == {
        "events": 4, "queued": 3,
        "queued_by_reason": {"disputed": 1, "low_confidence": 2},
        "queued_by_site": {"Harbour": 2, "Main St": 1},
        "priority_histogram": [0, 1, 0, 1, 0, 0, 1, 0, 0, 1],
        "exempt_from_caps_share": pytest.approx(1 / 3, abs=1e-6),
        "subject_to_caps": 2,
    }
    assert summarize([], [])["exempt_from_caps_share"] == 0.0


def test_comparison_counts_changes_both_ways_and_keeps_the_first_twenty_examples():
    events = [Replayed(prediction=i, camera="door-1", site="Main St", before=decision(True, "low_confidence", 0.4),
                       after=decision(False, priority=0.4)) for i in range(25)]
    events.append(Replayed(prediction=99, camera="door-2", site="Harbour", before=decision(False, priority=0.2),
                           after=decision(True, "policy_rule", 0.25)))
    events.append(Replayed(prediction=100, camera="door-2", site="Harbour", before=decision(True, "ood", 0.9),
                           after=decision(True, "ood", 0.9)))
    result = compare_policies(events)
    assert (result["changed"], result["no_longer_queued"], result["newly_queued"]) == (26, 25, 1)
    assert result["current"]["queued"] == 26 and result["proposed"]["queued"] == 2
    assert [e["prediction"] for e in result["examples"]] == list(range(20))
    assert result["examples"][0] == {
        "prediction": 0, "camera": "door-1", "site": "Main St", "queued_before": True, "queued_after": False,
        "reason_before": "low_confidence", "reason_after": "", "priority_before": 0.4, "priority_after": 0.4,
    }


def test_facts_for_event_reads_a_missing_reason_as_none_and_keys_the_audit_draw_by_device_and_event():
    facts = facts_for_event(event_type="prediction", reason="", detections=[("person", 0.4), ("bag", 0.9)],
                            site="Main St", brightness=0.5, blur=None, device_id=7, event_id="e1")
    assert facts.device_reason is None
    assert list(facts.scores) == [0.4, 0.9] and list(facts.labels) == ["person", "bag"]
    assert facts.sample_key == "7:e1"


# --- the endpoint ---------------------------------------------------------------------------------------

SCORES = [0.5, 0.45, 0.7, 0.9, 0.97, 0.6, 0.3, 0.99]


@pytest.fixture
def asset(kit) -> str:
    body = jpeg_bytes()
    assert kit.put_media(body).status_code == 201
    return hashlib.sha256(body).hexdigest()


@pytest.fixture
def people(kit):
    add_member(kit.project, "dana", "admin")
    add_member(kit.project, "bob", "reviewer")
    User.objects.create_user("charlie", password="pw-charlie-123")
    return kit.project


def post_scored(kit, asset: str, scores: list[float], prefix: str = "e") -> None:
    events = [prediction_event(f"{prefix}{i}", asset, score=s, captured_at=f"2026-11-21T08:{i // 60:02d}:{i % 60:02d}Z")
              for i, s in enumerate(scores)]
    out = kit.post_events(events).json()["results"]
    assert all(r["status"] == "created" for r in out), out


def api_as(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    return client


def preview(project, body: dict, username: str = "dana"):
    return api_as(username).post(f"/api/v1/projects/{project.pk}/routing-policy/preview", body, format="json")


@pytest.mark.django_db
def test_a_higher_min_priority_queues_fewer_and_names_the_events_it_drops(people, kit, asset):
    save_policy(project=kit.project, document=policy(min_priority=0.3), user=None)
    post_scored(kit, asset, SCORES)
    kit.post_events([prediction_event("d", asset, type="dispute", reason="disputed", score=0.99,
                                      captured_at="2026-11-21T09:00:00Z")])
    items_before = list(ReviewItem.objects.order_by("pk").values("pk", "priority", "reason", "status"))
    policies_before, audits_before = RoutingPolicy.objects.count(), AuditEvent.objects.count()

    response = preview(kit.project, {"document": policy(min_priority=0.6)})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["current_version"] == 1 and body["limit"] == 1000 and body["caps_simulated"] is False
    current, proposed = body["current"], body["proposed"]
    assert current["events"] == proposed["events"] == len(SCORES) + 1
    # The replay of the policy in force decides as ingest did: the same events queued, with the same priorities.
    assert current["queued"] == len(items_before)
    assert proposed["queued"] < current["queued"]
    assert proposed["queued_by_reason"]["disputed"] == 1  # a dispute is queued whatever the threshold
    assert proposed["queued_by_site"] == {"Main St": proposed["queued"]}
    assert sum(current["priority_histogram"]) == len(SCORES) + 1
    below = {i.prediction_id: i.priority for i in ReviewItem.objects.filter(priority__lt=0.6).exclude(reason="disputed")}
    assert below, "the scores were chosen so some queued events fall under the new threshold"
    assert body["changed"] == body["no_longer_queued"] == len(below) and body["newly_queued"] == 0
    assert {e["prediction"]: e["priority_before"] for e in body["examples"]} == pytest.approx(below, abs=1e-6)
    for example in body["examples"]:
        assert example["queued_before"] and not example["queued_after"]
        assert (example["camera"], example["site"]) == ("door-1", "Main St")
        assert example["reason_before"] == "low_confidence" and example["reason_after"] == ""
        assert example["priority_after"] == example["priority_before"]  # weights unchanged: only the bar moved
    # Nothing stored: no new policy version, no audit event, the queue untouched.
    assert RoutingPolicy.objects.count() == policies_before
    assert AuditEvent.objects.count() == audits_before
    assert list(ReviewItem.objects.order_by("pk").values("pk", "priority", "reason", "status")) == items_before


@pytest.mark.django_db
def test_the_preview_reports_caps_rather_than_simulating_them(people, kit, asset):
    post_scored(kit, asset, SCORES)
    body = preview(kit.project, {"document": policy(caps={"per_site_per_day": 1})}).json()
    assert body["current_version"] is None  # the built-in default is in force
    assert body["caps"]["proposed"] == {"per_site_per_day": 1}
    assert body["caps"]["current"] == DEFAULT_POLICY["caps"]
    assert body["proposed"]["queued"] > 1  # not cut to the cap …
    assert body["proposed"]["subject_to_caps"] == body["proposed"]["queued"]  # … but every one reported as capped


@pytest.mark.django_db
def test_limit_replays_only_the_newest_events(people, kit, asset):
    post_scored(kit, asset, SCORES)
    body = preview(kit.project, {"document": policy(min_priority=1.0), "limit": 2}).json()
    assert body["current"]["events"] == 2
    newest = set(Prediction.objects.order_by("-captured_at").values_list("pk", flat=True)[:2])
    assert {e["prediction"] for e in body["examples"]} <= newest


@pytest.mark.django_db
def test_other_sources_and_count_events_are_not_replayed(people, kit, asset):
    post_scored(kit, asset, [0.5])
    kit.post_events([{"id": "c1", "type": "count", "captured_at": "2026-11-21T08:00:00Z", "camera": "door-1",
                      "count": {"name": "in", "value": 3}}])
    other = make_device_kit(project=kit.project, site="Harbour", camera="door-2")
    other.post_events([prediction_event("h1", asset, camera="door-2", score=0.5)])
    body = preview(kit.project, {"document": policy()}).json()
    assert body["current"]["events"] == 2
    assert body["current"]["queued_by_site"] == {"Harbour": 1, "Main St": 1}


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [5001, 0, "many"])
def test_a_limit_outside_1_to_5000_is_refused(people, limit):
    response = preview(people, {"document": policy(), "limit": limit})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "limit" in response.json()["error"]["details"]


@pytest.mark.django_db
def test_an_invalid_document_lists_every_error_path_like_saving_does_and_stores_nothing(people):
    document = {"weights": {"bogus": 1}, "min_priority": 7, "rules": [{"name": "x", "when": {}}]}
    response = preview(people, {"document": document})
    saving = api_as("dana").put(f"/api/v1/projects/{people.pk}/routing-policy", {"document": document}, format="json")
    assert response.status_code == saving.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_policy"
    assert error == saving.json()["error"]
    paths = {e["path"] for e in error["details"]["errors"]}
    assert {"/", "/weights", "/min_priority", "/rules/0/when"} <= paths
    assert all(e["message"] for e in error["details"]["errors"])
    assert RoutingPolicy.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "status", "code"), [("dana", 200, None), ("bob", 403, "forbidden"),
                                                           ("charlie", 404, "not_found")])
def test_only_admins_preview(people, username, status, code):
    response = preview(people, {"document": policy()}, username=username)
    assert response.status_code == status
    if code:
        assert response.json()["error"]["code"] == code


@pytest.mark.django_db
def test_anonymous_gets_401(people):
    response = APIClient().post(f"/api/v1/projects/{people.pk}/routing-policy/preview", {"document": policy()},
                                format="json")
    assert response.status_code == 401


@pytest.mark.django_db
def test_the_preview_costs_the_same_queries_for_many_events(people, kit, asset, django_assert_num_queries):
    post_scored(kit, asset, SCORES[:2])
    client = api_as("dana")
    url = f"/api/v1/projects/{kit.project.pk}/routing-policy/preview"
    with django_assert_num_queries(3):  # membership, policy in force, predictions with camera, site and asset
        assert client.post(url, {"document": policy()}, format="json").json()["current"]["events"] == 2
    post_scored(kit, asset, SCORES * 5, prefix="more")
    with django_assert_num_queries(3):
        assert client.post(url, {"document": policy()}, format="json").json()["current"]["events"] == 42
