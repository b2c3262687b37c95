"""An open project WebSocket follows its member's current access (real Redis channel layer, real API calls): a
removed member's socket closes with 4403 and hears nothing more; a member whose sites change hears only their new
sites from then on; an admin demoted stops hearing admins' messages; and a membership that vanished without
notice (Django admin, a lost message) is caught when the next message is relayed."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from annotations.models import Membership, Project, Site
from reviewer.models import ReviewItem
from reviewer.realtime import publish
from tests.factories import add_member, as_user, make_items, make_project
from tests.reviewer.test_realtime import ORIGIN, communicator, session_cookie

pytestmark = pytest.mark.usefixtures("_media_root")

CLOSED_REMOVED = {"type": "websocket.close", "code": 4403, "reason": "not a member of this project"}


@pytest.fixture
def project(transactional_db: None) -> Project:
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer" or not settings.REDIS_URL
    project = make_project("store-counts")
    main_st, depot = Site.objects.create(project=project, name="Main St"), Site.objects.create(project=project,
                                                                                                name="Depot")
    make_items(project, 3, site=main_st)
    make_items(project, 3, site=depot)
    for name, role in (("dana", "admin"), ("alice", "annotator"), ("bob", "annotator"), ("carol", "annotator")):
        add_member(project, name, role)
    add_member(project, "maria", "manager", sites=[main_st])
    return project


async def open_socket(project: Project, username: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """The member's socket, connected, and the snapshot it got first."""
    user = await database_sync_to_async(User.objects.get)(username=username)
    comm = communicator(project.pk, await database_sync_to_async(session_cookie)(user), ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    snapshot = await comm.receive_json_from(timeout=5)
    assert snapshot["type"] == "queue.stats"
    return comm, snapshot


def call_api(method: str, username: str, url: str, body: dict[str, Any] | None = None) -> Any:
    response = getattr(as_user(username), method)(url, body or {}, format="json")
    assert response.status_code in (200, 201, 204), response.content
    return response.json() if response.status_code != 204 else None


api = database_sync_to_async(call_api)


@database_sync_to_async
def claim(project: Project, username: str, site: str) -> Any:
    return call_api("post", username, f"/api/v1/projects/{project.pk}/queue/claim",
                    {"site": Site.objects.get(project=project, name=site).pk})


@database_sync_to_async
def membership_id(project: Project, username: str) -> int:
    return Membership.objects.get(project=project, user__username=username).pk


@database_sync_to_async
def site_of(item_id: int) -> str:
    return ReviewItem.objects.select_related("site").get(pk=item_id).site.name


async def next_of_type(comm: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    while True:
        message = await comm.receive_json_from(timeout=5)
        if message["type"] == kind:
            return message


@pytest.mark.asyncio
async def test_a_removed_member_socket_closes_at_once_and_hears_nothing_more(project):
    alice, _ = await open_socket(project, "alice")
    dana, _ = await open_socket(project, "dana")
    leased = await claim(project, "bob", "Main St")
    assert (await alice.receive_json_from(timeout=5))["type"] == "item.leased"
    assert (await alice.receive_json_from(timeout=5))["type"] == "queue.stats"
    assert (await next_of_type(dana, "item.leased"))["item"] == leased["id"]

    await api("delete", "dana", f"/api/v1/projects/{project.pk}/members/{await membership_id(project, 'alice')}")
    assert await alice.receive_output(timeout=5) == CLOSED_REMOVED

    # The queue keeps moving; dana hears it, alice's socket gets nothing more.
    again = await claim(project, "carol", "Depot")
    assert (await next_of_type(dana, "item.leased"))["item"] == again["id"]
    assert await alice.receive_nothing(timeout=0.5)
    await alice.disconnect()
    await dana.disconnect()


@pytest.mark.asyncio
async def test_a_membership_deleted_without_notice_is_caught_when_the_next_message_is_relayed(project, settings):
    """As Django admin deletes a row: no `membership.changed` is sent, the relay check closes the socket."""
    settings.LOUPE_WS_ACCESS_RECHECK_SECONDS = 0
    alice, _ = await open_socket(project, "alice")
    await database_sync_to_async(Membership.objects.filter(project=project, user__username="alice").delete)()
    await claim(project, "bob", "Main St")
    assert await alice.receive_output(timeout=5) == CLOSED_REMOVED
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()


@pytest.mark.asyncio
async def test_a_scoped_member_hears_only_their_sites_and_follows_a_change_of_sites(project):
    maria, snapshot = await open_socket(project, "maria")
    assert snapshot["pending_by_site"] == {"Main St": 3}

    depot_lease = await claim(project, "bob", "Depot")
    # Bob's Depot claim: the snapshot after it, not the item.
    stats = await maria.receive_json_from(timeout=5)
    assert stats["type"] == "queue.stats" and stats["pending_by_site"] == {"Main St": 3}
    main_lease = await claim(project, "carol", "Main St")
    leased = await maria.receive_json_from(timeout=5)
    assert (leased["type"], leased["item"], leased["site"]) == ("item.leased", main_lease["id"],
                                                                await site_id(project, "Main St"))
    assert (await maria.receive_json_from(timeout=5))["pending_by_site"] == {"Main St": 2}

    await api("patch", "dana", f"/api/v1/projects/{project.pk}/members/{await membership_id(project, 'maria')}",
              {"sites": [await site_id(project, "Depot")]})
    moved = await maria.receive_json_from(timeout=5)
    assert moved["type"] == "queue.stats" and moved["pending_by_site"] == {"Depot": 2}

    await api("post", "carol", f"/api/v1/items/{main_lease['id']}/release", {"lease_token": main_lease["lease_token"]})
    await api("post", "bob", f"/api/v1/items/{depot_lease['id']}/release", {"lease_token": depot_lease["lease_token"]})
    # Main St's release is no longer hers (only the snapshot after it); Depot's is.
    assert (await maria.receive_json_from(timeout=5))["pending_by_site"] == {"Depot": 2}
    released = await maria.receive_json_from(timeout=5)
    assert (released["type"], released["item"]) == ("item.released", depot_lease["id"])
    assert (await maria.receive_json_from(timeout=5))["pending_by_site"] == {"Depot": 3}
    assert await site_of(released["item"]) == "Depot"
    await maria.disconnect()


@pytest.mark.asyncio
async def test_an_admin_demoted_stops_hearing_the_admins_messages(project):
    add = database_sync_to_async(add_member)
    await add(project, "erin", "admin")
    erin, _ = await open_socket(project, "erin")
    await api("patch", "dana", f"/api/v1/projects/{project.pk}/members/{await membership_id(project, 'erin')}",
              {"role": "annotator"})
    assert (await erin.receive_json_from(timeout=5))["type"] == "queue.stats"  # the snapshot of the new role

    def deliveries() -> None:
        with transaction.atomic():
            publish(project_id=project.pk, message={"type": "webhook.delivery", "webhook": 1, "delivery": 2,
                                                    "status": "delivered", "attempts": 1})
            publish(project_id=project.pk, message={"type": "training.status", "state": "queued"})

    await database_sync_to_async(deliveries)()
    # The admins' message came first and did not reach her; the one for everyone did.
    assert await erin.receive_json_from(timeout=5) == {"type": "training.status", "state": "queued"}
    await erin.disconnect()


@database_sync_to_async
def site_id(project: Project, name: str) -> int:
    return Site.objects.get(project=project, name=name).pk


def test_the_project_page_gives_a_scoped_member_no_other_sites(project):
    """Over HTTP a scoped member gets no project-wide figures at all (their pages show none), so the socket's
    site filter is not undone there."""
    assert as_user("maria").get(f"/api/v1/projects/{project.pk}/").json()["stats"] is None
    assert as_user("alice").get(f"/api/v1/projects/{project.pk}/").json()["stats"]["pending_by_site"] == {
        "Main St": 3, "Depot": 3}


@pytest.mark.asyncio
async def test_a_project_id_past_64_bits_is_refused_like_a_foreign_one(project):
    """The socket's route takes any digits; on SQLite such an id was an OverflowError in the driver."""
    user = await database_sync_to_async(User.objects.get)(username="alice")
    comm = communicator(2**70, await database_sync_to_async(session_cookie)(user), ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_output(timeout=5))["code"] == 4403
    await comm.disconnect()
