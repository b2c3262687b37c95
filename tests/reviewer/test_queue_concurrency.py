"""The claim queue under real concurrency on PostgreSQL (threads, each with its own connection)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import connection

from annotations.models import Annotation, Membership
from reviewer.models import ReviewItem
from reviewer.queue import ClaimFilter, claim_next
from reviewer.services import NotAwaitingReview, Submission, decide_review, submit_annotation
from tests.factories import add_member, make_items, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_16_claimers_drain_200_items_each_leased_exactly_once(postgres, settings):
    """Each claimer works as a person does: claim, submit, claim the next (a claim without a submit would hand
    the claimer's own item back).

    200 items (were 800): sixteen claimers still contend for every pick, a dozen claims each. Exactly once comes
    from the claim's FOR UPDATE SKIP LOCKED; the claim without it (tried as a mutant) double-leased within 200
    items in each of three runs, and 800 took four times as long."""
    settings.LOUPE_STATS_PUSH_INTERVAL = -1  # the queue is under test here, not the dashboard pushes
    project = make_project()
    make_items(project, 200)
    members = [Membership.objects.get(user=add_member(project, f"a{i}", "annotator")) for i in range(16)]
    start = threading.Barrier(16)

    def drain(membership: Membership) -> list[int]:
        start.wait()
        got = []
        try:
            while (item := claim_next(user=membership.user, membership=membership, claim=ClaimFilter())) is not None:
                got.append(item.pk)
                submit_annotation(item=item, user=membership.user, lease_token=item.lease_token,
                                  submission=Submission(boxes=[]))
            return got
        finally:
            connection.close()

    with ThreadPoolExecutor(16) as pool:
        claimed = [pk for got in pool.map(drain, members) for pk in got]
    counts = Counter(claimed)
    assert len(counts) == 200, "no item lost"
    assert max(counts.values()) == 1, "no item leased twice"
    assert ReviewItem.objects.filter(status="leased").count() == 0
    assert Annotation.objects.count() == 200
    done_by = Counter(Annotation.objects.values_list("author__username", flat=True))
    assert len(done_by) > 1  # the work really was shared

def test_two_reviewers_deciding_at_once_one_wins_the_other_gets_409(postgres):
    project = make_project()
    item = make_items(project, 1)[0]
    ReviewItem.objects.filter(pk=item.pk).update(status="submitted")
    reviewers = [add_member(project, f"r{i}", "reviewer") for i in range(2)]
    start = threading.Barrier(2)

    def decide(user: User) -> str:
        start.wait()
        try:
            decide_review(item=item, user=user, decision="accept", comment="")
            return "won"
        except NotAwaitingReview:
            return "409"
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(decide, reviewers))
    assert outcomes == ["409", "won"]
    assert ReviewItem.objects.get(pk=item.pk).status == "accepted"
