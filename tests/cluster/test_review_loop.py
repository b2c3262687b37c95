"""The reviewers' work loop (claim → submit → QA accept) through HAProxy, its requests spread over both webs:
leases, fencing tokens and the retrain threshold behave as on one process, and reviewers whose sockets sit on
different webs hear the same queue updates (the channel layer is Redis).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from websockets.sync.client import ClientConnection, connect

from activelearning.datasets.models import DatasetVersion
from activelearning.training.models import RetrainRequest, RetrainState, TrainerConfig, TrainingRun
from deploy.local.cluster import Cluster
from reviewer.models import ItemStatus, ReviewItem
from tests.cluster.polling import until
from tests.factories import add_member, make_items, make_project

pytestmark = pytest.mark.django_db(transaction=True)
BOX = {"label": "person", "box": [12.0, 22.0, 30.0, 60.0]}
ITEMS = 9
THRESHOLD = 4
ITEM_MESSAGES = {"item.leased", "item.released", "item.accepted"}


class Api:
    """One person's API client through the balancer; remembers which web answered each request."""

    def __init__(self, cluster: Cluster, user: User) -> None:
        token = Token.objects.create(user=user).key
        self.http = httpx.Client(base_url=cluster.url, headers={"Authorization": f"Token {token}"}, timeout=30)
        self.served_by: list[str] = []

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = self.http.post(path, json=body)
        self.served_by.append(response.headers["x-served-by"])
        return response


def socket_on(cluster: Cluster, user: User, project_id: int, avoid: str | None) -> tuple[ClientConnection, str]:
    """A project socket through the balancer on a web other than `avoid` (roundrobin: the next one is)."""
    browser = Client()
    browser.force_login(user)
    headers = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}", "Origin": cluster.url}
    for _ in range(10):
        socket = connect(f"ws://127.0.0.1:{cluster.ports.balancer}/ws/projects/{project_id}/",
                         additional_headers=headers, open_timeout=10)
        web = socket.response.headers["x-served-by"] if socket.response else ""
        if web != avoid:
            return socket, web
        socket.close()
    raise AssertionError("the balancer kept sending the sockets to one web")


def heard(socket: ClientConnection, accepted: set[int]) -> set[tuple[str, int]]:
    """The item messages on `socket` until every item of `accepted` was heard accepted (bounded by recv's
    timeout)."""
    seen: set[tuple[str, int]] = set()
    while not accepted <= {item for kind, item in seen if kind == "item.accepted"}:
        message = orjson.loads(socket.recv(timeout=20))
        if message["type"] in ITEM_MESSAGES:
            seen.add((message["type"], message["item"]))
    return seen


def test_the_work_loop_through_the_balancer_behaves_as_on_one_process(cluster: Cluster):
    project = make_project("cluster-review")
    project.qa_sample_rate = 1.0  # every submission goes to QA
    project.retrain_threshold = THRESHOLD
    project.save()
    # A trainer command nobody allowed: each queued run fails at once, so no training burns the test's CPU.
    TrainerConfig.objects.update_or_create(project=project, defaults={"backend": "command", "command": "none"})
    annotators = [add_member(project, name, "annotator") for name in ("alice", "erin")]
    reviewers = [add_member(project, name, "reviewer") for name in ("bob", "carol")]
    items = {item.pk for item in make_items(project, ITEMS)}
    alice, erin = (Api(cluster, user) for user in annotators)
    bob = Api(cluster, reviewers[0])
    bob_socket, bob_web = socket_on(cluster, reviewers[0], project.pk, avoid=None)
    carol_socket, carol_web = socket_on(cluster, reviewers[1], project.pk, avoid=bob_web)
    claim = f"/api/v1/projects/{project.pk}/queue/claim"

    # Fencing: a reload re-leases the item with a new token, and the old tab's token is refused by either web.
    first = alice.post(claim, {}).json()
    again = alice.post(claim, {}).json()
    assert again["id"] == first["id"] and again["resumed"] and again["lease_token"] != first["lease_token"]
    stale = alice.post(f"/api/v1/items/{first['id']}/submit", {"lease_token": first["lease_token"], "boxes": [BOX]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "lease_lost"
    fresh = alice.post(f"/api/v1/items/{first['id']}/submit", {"lease_token": again["lease_token"], "boxes": [BOX]})
    assert fresh.status_code == 201, fresh.text
    assert set(alice.served_by) == {"web1", "web2"}, "roundrobin: the four requests alternate"

    # Two annotators claim at once through both webs: a lease is one person's, never two.
    served: dict[str, list[int]] = {"alice": [first["id"]], "erin": []}

    def work(name: str, api: Api) -> None:
        while (claimed := api.post(claim, {})).status_code == 200:
            body = claimed.json()
            submitted = api.post(f"/api/v1/items/{body['id']}/submit",
                                 {"lease_token": body["lease_token"], "boxes": [BOX]})
            assert submitted.status_code == 201, submitted.text
            served[name].append(body["id"])
        assert claimed.status_code == 204, claimed.text

    threads = [threading.Thread(target=work, args=("alice", alice)), threading.Thread(target=work, args=("erin", erin))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not set(served["alice"]) & set(served["erin"])
    assert sorted(served["alice"] + served["erin"]) == sorted(items)
    assert ReviewItem.objects.filter(project=project, status=ItemStatus.SUBMITTED).count() == ITEMS

    # QA accepts one by one; each threshold crossing is one request, dispatched once by a worker (the freeze
    # starts the next epoch), as on one process.
    order = sorted(items)

    def accept(item_id: int) -> None:
        response = bob.post(f"/api/v1/items/{item_id}/review", {"decision": "accept"})
        assert response.status_code == 200 and response.json()["status"] == "accepted", response.text

    for epoch in (1, 2):
        for item_id in order[(epoch - 1) * THRESHOLD:epoch * THRESHOLD]:
            accept(item_id)
        until(f"the retrain request of epoch {epoch - 1} to be dispatched",
              lambda epoch=epoch: RetrainState.objects.filter(project=project, epoch=epoch, accepted_since=0).exists()
              and not RetrainRequest.objects.filter(project=project, dispatched_at__isnull=True).exists())
    accept(order[-1])
    assert RetrainState.objects.get(project=project).accepted_since == 1
    requests = list(RetrainRequest.objects.filter(project=project).order_by("epoch"))
    assert [(r.epoch, r.trigger, r.accepted_count) for r in requests] == [(0, "threshold", 4), (1, "threshold", 4)]
    versions = DatasetVersion.objects.filter(project=project).order_by("number")
    assert [(v.number, v.stats["items"]) for v in versions] == [(1, 4), (2, 8)]
    assert TrainingRun.objects.filter(project=project).count() == 2
    assert set(bob.served_by) == {"web1", "web2"}

    # Both reviewers heard every lease and acceptance, from whichever web made it.
    assert {bob_web, carol_web} == {"web1", "web2"}
    with bob_socket, carol_socket:
        bob_heard, carol_heard = heard(bob_socket, items), heard(carol_socket, items)
    assert bob_heard == carol_heard
    assert {item for kind, item in bob_heard if kind == "item.leased"} == items
