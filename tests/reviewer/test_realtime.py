"""The project WebSocket: members only, Origin checked, events sent after commit and never on rollback."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.test import Client
from django.utils import timezone

from annotations.models import Membership, Project, Role, Site
from config.asgi import application
from reviewer import realtime
from reviewer.models import ItemStatus, Reason, ReviewItem
from reviewer.realtime import project_group, publish, publish_queue_stats
from reviewer.selectors import queue_stats
from tests.factories import make_project

ORIGIN = (b"origin", b"http://127.0.0.1")
SCRIPT = "<script>alert(1)</script>"


@dataclass
class Cast:
    project: Project
    alice: AbstractBaseUser  # annotator in the project
    charlie: AbstractBaseUser  # member of another project only


def make_user(username: str) -> AbstractBaseUser:
    return get_user_model().objects.create_user(username=username, password="pw-not-used")


def session_cookie(user: AbstractBaseUser) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (
        b"cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode(),
    )


@pytest.fixture
def cast(transactional_db: None) -> Cast:
    project = make_project("store-counts")
    other = make_project("bus-clips")
    alice, charlie = make_user("alice"), make_user("charlie")
    Membership.objects.create(project=project, user=alice, role=Role.ANNOTATOR)
    Membership.objects.create(project=other, user=charlie, role=Role.ADMIN)
    return Cast(project=project, alice=alice, charlie=charlie)


def add_item(
    project: Project,
    *,
    reason: str = Reason.LOW_CONFIDENCE,
    site: Site | None = None,
    status: str = ItemStatus.PENDING,
    **fields: Any,
) -> ReviewItem:
    return ReviewItem.objects.create(
        project=project, reason=reason, site=site, status=status, priority=0.5, **fields
    )


def fill_queue(project: Project, holder: AbstractBaseUser) -> None:
    """Five items waiting (one of them an expired lease), one live lease, one awaiting QA, one accepted today."""
    main_st, depot = (
        Site.objects.create(project=project, name="Main St"),
        Site.objects.create(project=project, name="Depot"),
    )
    now = timezone.now()
    add_item(project, site=main_st)
    add_item(project, site=main_st)
    add_item(project, reason=Reason.OOD, site=depot)
    add_item(project, reason=Reason.AUDIT_SAMPLE)
    add_item(
        project,
        reason=Reason.DISPUTED,
        site=main_st,
        status=ItemStatus.LEASED,
        lease_holder=holder,
        lease_token="expired",
        lease_expires_at=now - dt.timedelta(minutes=5),
    )
    add_item(
        project,
        site=depot,
        status=ItemStatus.LEASED,
        lease_holder=holder,
        lease_token="live",
        lease_expires_at=now + dt.timedelta(minutes=5),
    )
    add_item(project, status=ItemStatus.SUBMITTED)
    add_item(project, status=ItemStatus.ACCEPTED)
    old = add_item(project, status=ItemStatus.ACCEPTED)
    ReviewItem.objects.filter(pk=old.pk).update(updated_at=now - dt.timedelta(days=2))
    add_item(project, status=ItemStatus.REJECTED)
    add_item(make_project("elsewhere"))  # another project's queue is not counted


EXPECTED_STATS = {
    "type": "queue.stats",
    "pending": 5,
    "pending_by_reason": {"low_confidence": 2, "ood": 1, "audit_sample": 1, "disputed": 1},
    "pending_by_site": {"Main St": 3, "Depot": 1},
    "leased": 1,
    "submitted": 1,
    "accepted_today": 1,
}


def communicator(project_id: int, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=list(headers))


async def connect_member(cast: Cast) -> WebsocketCommunicator:
    """Alice's socket, connected, with the initial snapshot already read."""
    comm = communicator(cast.project.pk, await database_sync_to_async(session_cookie)(cast.alice), ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "queue.stats"
    return comm


async def assert_closed_with(comm: WebsocketCommunicator, code: int) -> None:
    connected, _ = await comm.connect()
    assert connected  # accepted so the close can carry the code
    assert await comm.receive_output() == {"type": "websocket.close", "code": code}
    await comm.disconnect()


@pytest.mark.asyncio
async def test_member_gets_a_queue_stats_snapshot_on_connect(cast):
    await database_sync_to_async(fill_queue)(cast.project, cast.alice)
    comm = communicator(cast.project.pk, await database_sync_to_async(session_cookie)(cast.alice), ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_json_from() == EXPECTED_STATS
    await comm.disconnect()


@pytest.mark.asyncio
async def test_connection_without_a_session_is_closed_4401(cast):
    await assert_closed_with(communicator(cast.project.pk, ORIGIN), 4401)


@pytest.mark.asyncio
async def test_member_of_another_project_is_closed_4403(cast):
    cookie = await database_sync_to_async(session_cookie)(cast.charlie)
    await assert_closed_with(communicator(cast.project.pk, cookie, ORIGIN), 4403)


@pytest.mark.asyncio
async def test_nonexistent_project_is_closed_4403(cast):
    cookie = await database_sync_to_async(session_cookie)(cast.alice)
    await assert_closed_with(communicator(cast.project.pk + 10_000, cookie, ORIGIN), 4403)


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", [[(b"origin", b"http://evil.example")], []], ids=["foreign", "missing"])
async def test_handshake_from_a_foreign_or_missing_origin_is_refused(cast, origin):
    cookie = await database_sync_to_async(session_cookie)(cast.alice)
    comm = communicator(cast.project.pk, cookie, *origin)
    connected, _ = await comm.connect()
    assert connected is False
    await comm.disconnect()


@pytest.mark.asyncio
async def test_ping_gets_pong_and_malformed_frames_are_ignored(cast):
    comm = await connect_member(cast)
    await comm.send_to(text_data="not json{")
    await comm.send_to(bytes_data=b"\x00\x01")
    await comm.send_json_to({"type": "subscribe", "project": 999})
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


def publish_in_transaction(project_id: int, message: dict[str, Any], *, roll_back: bool) -> None:
    class RolledBack(Exception):
        pass

    try:
        with transaction.atomic():
            publish(project_id=project_id, message=message)
            if roll_back:
                raise RolledBack
    except RolledBack:
        pass


@pytest.mark.asyncio
async def test_publish_delivers_only_what_commits(cast):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = project_group(cast.project.pk)
    await layer.group_add(group, channel)
    try:
        send = database_sync_to_async(publish_in_transaction)
        await send(cast.project.pk, {"type": "item.leased", "item": 1}, roll_back=True)
        await send(cast.project.pk, {"type": "item.released", "item": 2}, roll_back=False)
        # Group messages to one channel keep their order: had the rolled-back one been sent, it came first.
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        assert message == {"type": "project.event", "payload": {"type": "item.released", "item": 2}}
        # And nothing else follows it (a bounded negative check).
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(channel), timeout=0.3)
    finally:
        await layer.group_discard(group, channel)


@pytest.mark.asyncio
async def test_committed_event_reaches_the_member_socket_as_json(cast):
    comm = await connect_member(cast)
    message = {"type": "flag.created", "item": 7, "note": SCRIPT, "at": timezone.now()}
    await database_sync_to_async(publish_in_transaction)(cast.project.pk, message, roll_back=False)
    frame = await comm.receive_from()
    assert isinstance(frame, str)
    decoded = json.loads(frame)
    # The label text comes back as the same JSON string value, never as markup; datetimes as ISO strings.
    assert decoded["note"] == SCRIPT
    assert decoded["type"] == "flag.created"
    assert decoded["at"] == message["at"].isoformat()
    await comm.disconnect()


@pytest.mark.asyncio
async def test_admin_only_messages_reach_the_projects_admins_and_no_one_else(cast):
    """A webhook delivery's outcome goes to the admins' sockets (their delivery log), not to an annotator's."""
    dana = await database_sync_to_async(make_user)("dana")
    await database_sync_to_async(Membership.objects.create)(project=cast.project, user=dana, role=Role.ADMIN)
    annotator = await connect_member(cast)
    admin = communicator(cast.project.pk, await database_sync_to_async(session_cookie)(dana), ORIGIN)
    assert (await admin.connect())[0]
    assert (await admin.receive_json_from())["type"] == "queue.stats"
    send = database_sync_to_async(publish_in_transaction)
    await send(cast.project.pk, {"type": "webhook.delivery", "webhook": 3, "delivery": 9, "status": "delivered",
                                 "attempts": 1}, roll_back=False)
    await send(cast.project.pk, {"type": "item.leased", "item": 1}, roll_back=False)
    assert (await admin.receive_json_from())["type"] == "webhook.delivery"
    assert (await admin.receive_json_from())["type"] == "item.leased"
    # The annotator's next message is the one for everyone: the admins' message came first and skipped them.
    assert (await annotator.receive_json_from()) == {"type": "item.leased", "item": 1}
    await admin.disconnect()
    await annotator.disconnect()


@pytest.mark.asyncio
async def test_queue_stats_push_counts_the_committed_state(cast):
    comm = await connect_member(cast)

    def enqueue() -> None:
        with transaction.atomic():
            publish_queue_stats(project_id=cast.project.pk)
            add_item(cast.project, reason=Reason.OOD)  # written after the call, still counted

    await database_sync_to_async(enqueue)()
    stats = await comm.receive_json_from()
    assert stats["type"] == "queue.stats"
    assert stats["pending"] == 1
    assert stats["pending_by_reason"] == {"ood": 1}
    await comm.disconnect()


@pytest.mark.django_db
def test_a_failing_channel_layer_never_breaks_the_write(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    class BrokenLayer:
        async def group_send(self, group: str, message: dict[str, Any]) -> None:
            raise ConnectionError("redis is down")

    monkeypatch.setattr(realtime, "get_channel_layer", BrokenLayer)
    project = make_project()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        add_item(project)
        publish(project_id=project.pk, message={"type": "item.released", "item": 1})
        publish_queue_stats(project_id=project.pk)
    assert len(callbacks) == 2
    assert ReviewItem.objects.filter(project=project).count() == 1
    assert "push to project" in caplog.text


def test_publish_refuses_unknown_types_and_non_json_values():
    with pytest.raises(ValueError, match="unknown realtime message type"):
        publish(project_id=1, message={"type": "item.deleted"})
    with pytest.raises(TypeError):
        publish(project_id=1, message={"type": "item.leased", "user": object()})


@pytest.mark.django_db
@pytest.mark.parametrize("copies", [1, 10])
def test_queue_stats_takes_two_queries_whatever_the_queue_size(copies, django_assert_num_queries):
    project = make_project()
    holder = make_user("alice")
    for i in range(copies):
        site = Site.objects.create(project=project, name=f"site-{i}")
        for reason in (Reason.LOW_CONFIDENCE, Reason.OOD):
            add_item(project, reason=reason, site=site)
        add_item(
            project,
            site=site,
            status=ItemStatus.LEASED,
            lease_holder=holder,
            lease_token=f"t{i}",
            lease_expires_at=timezone.now() + dt.timedelta(minutes=5),
        )
    with django_assert_num_queries(2):
        stats = queue_stats(project.pk)
    assert stats["pending"] == 2 * copies
    assert len(stats["pending_by_site"]) == copies
    assert stats["leased"] == copies


@pytest.mark.django_db(transaction=True)
def test_queue_stats_pushes_are_coalesced_per_project(settings, monkeypatch):
    """A burst of changes schedules one snapshot, sent once the interval has passed."""
    import threading

    from reviewer import realtime

    settings.LOUPE_STATS_PUSH_INTERVAL = 0.05
    sent: list[int] = []
    done = threading.Event()

    def fake_send(project_id: int) -> None:
        sent.append(project_id)
        done.set()

    monkeypatch.setattr(realtime, "send_queue_stats", fake_send)
    for _ in range(50):
        realtime._schedule_queue_stats(4242)
    assert done.wait(timeout=5)
    assert sent == [4242]
    realtime._schedule_queue_stats(4242)  # a later change schedules the next snapshot
    done.clear()
    assert done.wait(timeout=5)
    assert sent == [4242, 4242]


def test_a_slow_count_stretches_the_push_interval(settings, monkeypatch):
    """Counting a huge queue must not eat the database: the interval keeps counting under 10 % duty."""
    import threading

    from reviewer import realtime

    settings.LOUPE_STATS_PUSH_INTERVAL = 0.01
    started: list[float] = []

    class FakeTimer:
        def __init__(self, interval, function, args):
            started.append(interval)
            self.daemon = False

        def start(self):
            pass

    monkeypatch.setattr(threading, "Timer", FakeTimer)
    monkeypatch.setitem(realtime._last_count_seconds, 777, 0.9)
    realtime._scheduled.discard(777)
    realtime._schedule_queue_stats(777)
    realtime._scheduled.discard(777)
    assert started == [pytest.approx(9.0)]


@pytest.mark.django_db
def test_one_recount_per_interval_across_processes_and_a_later_change_is_not_lost(settings, monkeypatch):
    """Every server process used to recount a project's queue each interval; now they take turns through
    Redis. A process whose last change came after the other's count began asks again when that turn ends."""
    import time

    from reviewer import realtime

    settings.LOUPE_STATS_PUSH_INTERVAL = 30.0  # a long turn: nothing here waits for it
    project_id = 900_000 + int(time.time() * 1000) % 100_000  # a key no other run holds
    before = time.time()
    assert realtime._shared_turn(project_id, changed_at=before) is None  # first process: counts now
    # Second process, whose change came before that count began: the snapshot being sent shows it.
    assert realtime._shared_turn(project_id, changed_at=before - 1) == 0.0
    # Third, whose change came after: it must not be dropped; it asks again when the turn is over.
    wait = realtime._shared_turn(project_id, changed_at=time.time() + 1)
    assert wait is not None and 29.0 < wait <= 30.0

    sent: list[int] = []
    timers: list[tuple[int, float]] = []
    monkeypatch.setattr(realtime, "send_queue_stats", sent.append)
    monkeypatch.setattr(realtime, "_start_timer", lambda pid, delay: timers.append((pid, delay)))
    realtime._latest_change[project_id] = time.time() + 1
    realtime._flush_queue_stats(project_id)
    assert sent == [] and timers and timers[0][0] == project_id and timers[0][1] > 29.0


def test_without_redis_every_process_counts(settings):
    from reviewer import realtime

    settings.REDIS_URL = ""
    realtime._redis_client = None
    assert realtime._shared_turn(1, changed_at=0.0) is None
