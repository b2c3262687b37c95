"""reviewer 0008 puts disputes that the server pre-label rerouted to `model_disagreement` back to `disputed`,
leaves every other item alone, and its reverse undoes exactly that."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reviewer.models import ReviewItem
from tests.factories import make_items, make_project

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("reviewer", "0007_count_flag_outcome")]
AFTER = [("reviewer", "0008_disputes_queued_as_disputed")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def reasons(items: list[ReviewItem]) -> list[str]:
    return [ReviewItem.objects.get(pk=i.pk).reason for i in items]


def test_rerouted_disputes_are_relabelled_and_the_reverse_restores_them():
    project = make_project("bus-boarding")
    rerouted, other, fresh = make_items(project, 3)
    migrate(BEFORE)
    try:
        # As the old pre-label left them: a dispute and a low-confidence frame both rerouted; a dispute queued
        # after the fix has no field_reason.
        ReviewItem.objects.filter(pk=rerouted.pk).update(
            reason="model_disagreement", score_parts={"field_reason": "disputed", "model_disagreement": {"score": 1}})
        ReviewItem.objects.filter(pk=other.pk).update(
            reason="model_disagreement", score_parts={"field_reason": "low_confidence"})
        ReviewItem.objects.filter(pk=fresh.pk).update(reason="disputed", score_parts={})

        migrate(AFTER)
        assert reasons([rerouted, other, fresh]) == ["disputed", "model_disagreement", "disputed"]

        migrate(BEFORE)
        assert reasons([rerouted, other, fresh]) == ["model_disagreement", "model_disagreement", "disputed"]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
