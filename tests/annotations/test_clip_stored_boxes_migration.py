"""annotations 0013 clips the boxes stored past their image's edge (the submit API took them before issue 19):
the newest version of such an asset gets a `repair` version (no author) with the boxes clipped and those wholly
outside removed; a version already inside its image, and every older version, are left as they were."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from annotations.models import Annotation, AnnotationOrigin
from tests.factories import add_member, make_asset, make_project

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("annotations", "0011_prediction_model_time")]
AFTER = [("annotations", "0013_clip_stored_boxes")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def version(project, asset, n: int, boxes: list[dict], author) -> Annotation:
    return Annotation.objects.create(project=project, asset=asset, version=n, author=author, boxes=boxes,
                                     submitted_at=timezone.now())


def test_boxes_past_the_edge_are_clipped_in_a_new_repair_version_and_history_stays():
    project = make_project("store-counts")
    alice = add_member(project, "alice", "annotator")
    past, fine = make_asset("past", 640, 480, held_by=project), make_asset("fine", 640, 480, held_by=project)
    migrate(BEFORE)
    try:
        inside = {"label": "person", "box": [10, 10, 20, 20]}
        version(project, past, 1, [{"label": "person", "box": [600, 10, 80, 80]}], alice)
        stored = [inside, {"label": "person", "box": [561.6, 53.3, 98.4, 183.3]},
                  {"label": "person", "box": [700, 10, 5, 5]}]
        version(project, past, 2, stored, alice)
        version(project, fine, 1, [inside], alice)

        migrate(AFTER)
        repair = Annotation.objects.get(asset=past, version=3)
        assert (repair.origin, repair.author_id) == (AnnotationOrigin.REPAIR, None)
        assert repair.boxes == [{"label": "person", "box": [10.0, 10.0, 20.0, 20.0]},
                                {"label": "person", "box": [561.6, 53.3, 78.4, 183.3]}]
        assert repair.diff == {"base_version": 2, "clipped": 1, "removed_outside": 1}
        assert Annotation.objects.get(asset=past, version=2).boxes == stored  # history as it was stored
        assert list(Annotation.objects.filter(asset=fine).values_list("version", flat=True)) == [1]

        migrate(BEFORE)  # backwards: the repair versions go, so the old constraint holds again
        assert not Annotation.objects.filter(origin=AnnotationOrigin.REPAIR).exists()
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
