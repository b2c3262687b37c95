"""Two admins, each demoting the other at the same moment: one succeeds, the other is refused with
`last_admin`, and the project keeps exactly one admin (real threads on the real PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from annotations.errors import LastAdmin
from annotations.models import Membership, Role
from annotations.services import change_membership, remove_membership
from tests.factories import add_member, make_project

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("step_down", ["demote", "remove"])
def test_two_admins_stepping_down_at_once_leave_one_admin(step_down):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    project = make_project()
    admins = [Membership.objects.get(user=add_member(project, name, "admin")) for name in ("dana", "erin")]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def leave(membership: Membership) -> None:
        try:
            barrier.wait()
            if step_down == "demote":
                change_membership(membership=membership, actor=membership.user, role=Role.ANNOTATOR)
            else:
                remove_membership(membership=membership, actor=membership.user)
            outcomes.append("done")
        except LastAdmin:
            outcomes.append("last_admin")
        finally:
            connection.close()

    threads = [threading.Thread(target=leave, args=(m,)) for m in admins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["done", "last_admin"]
    assert Membership.objects.filter(project=project, role=Role.ADMIN).count() == 1
