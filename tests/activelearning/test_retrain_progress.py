"""The queue dashboard's progress to retraining follows the counter that triggers it: it restarts at 0 when a
dataset version is frozen, so after the first retrain it does not sit at 100 % (all accepted items ever / the
threshold) while the real counter climbs again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from activelearning.datasets.models import DatasetVersion
from activelearning.training.models import RetrainRequest
from tests.activelearning.test_retraining import accept, submitted_items
from tests.factories import add_member, make_project


def dashboard_stats(project, username: str) -> dict:
    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    response = client.get(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 200
    return response.json()["stats"]


@pytest.mark.django_db(transaction=True)
def test_progress_restarts_after_each_retrain_across_two_retrains():
    project = make_project("store-counts")
    project.retrain_threshold = 3
    project.save()
    add_member(project, "bob", "reviewer")
    add_member(project, "dana", "admin")
    bob = User.objects.get(username="bob")
    items = submitted_items(project, 7)

    assert dashboard_stats(project, "dana")["threshold_progress"] == 0.0
    for item in items[:2]:
        accept(item, bob)
    stats = dashboard_stats(project, "dana")
    assert (stats["accepted_since_retrain"], stats["retrain_threshold"]) == (2, 3)
    assert stats["threshold_progress"] == pytest.approx(2 / 3)

    accept(items[2], bob)  # first retrain: a version is frozen and the counter restarts
    assert DatasetVersion.objects.filter(project=project).count() == 1
    stats = dashboard_stats(project, "dana")
    assert (stats["accepted"], stats["accepted_since_retrain"], stats["threshold_progress"]) == (3, 0, 0.0)

    for item in items[3:5]:
        accept(item, bob)
    stats = dashboard_stats(project, "dana")
    assert (stats["accepted"], stats["accepted_since_retrain"]) == (5, 2)
    assert stats["threshold_progress"] == pytest.approx(2 / 3)  # not min(1, 5 / 3) = 100 %

    accept(items[5], bob)  # second retrain
    assert RetrainRequest.objects.filter(project=project).count() == 2
    assert DatasetVersion.objects.filter(project=project).count() == 2
    stats = dashboard_stats(project, "dana")
    assert (stats["accepted"], stats["accepted_since_retrain"], stats["threshold_progress"]) == (6, 0, 0.0)

    accept(items[6], bob)
    stats = dashboard_stats(project, "dana")
    assert (stats["accepted_since_retrain"], stats["threshold_progress"]) == (1, pytest.approx(1 / 3))


@pytest.mark.django_db
def test_site_scoped_roles_still_get_no_project_figures():
    project = make_project("bus-boarding")
    add_member(project, "olga", "operator")
    assert dashboard_stats(project, "olga") is None
