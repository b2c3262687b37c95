"""Live updates for a project's browsers: one channel-layer group per project, fed only after commit.

Pushes are best effort: a failed push is logged and never breaks the write that caused it, because the
next `queue.stats` snapshot (sent on every connect and after every queue change) repairs the client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from functools import partial
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django import db
from django.conf import settings
from django.db import transaction

from reviewer.selectors import queue_stats

logger = logging.getLogger(__name__)

# The `type`s API.md lists for /ws/projects/{id}/; one word for one thing, as the frontend reads them.
MESSAGE_TYPES = frozenset(
    {
        "queue.stats",
        "item.leased",
        "item.released",
        "item.accepted",
        "flag.created",
        "training.status",
        "drift.alert",
        "model.promoted",  # a new champion (or a rollback): devices and the models page follow
        "model.alert",  # a model failing in the pre-labeler, or taken out of service
        "export.status",  # a dataset export's progress while it runs (at most every 2 s), then its end
        "alerts.changed",  # the alert sweep opened or resolved alerts: the bell re-reads its counts
    }
)
# Sent to the project's admins only (`publish(..., admins_only=True)`): what their settings pages follow.
ADMIN_MESSAGE_TYPES = frozenset(
    {
        "webhook.delivery",  # an attempt's outcome: the delivery log updates without polling
    }
)
# A request thread waits at most this long for the channel layer after its transaction committed.
SEND_TIMEOUT_SECONDS = 2.0


def project_group(project_id: int) -> str:
    """The channel-layer group every connected browser of the project listens to."""
    return f"project-{project_id}"


def project_admins_group(project_id: int) -> str:
    """The group only the project's admins' browsers join (webhook deliveries name receivers' outcomes)."""
    return f"project-{project_id}-admins"


def user_group(user_id: int) -> str:
    """The group every socket of one person joins (whatever the project): told when their access changes."""
    return f"user-{user_id}"


# The channel-layer message (not a frame sent to browsers) that makes a person's sockets re-check their access.
MEMBERSHIP_CHANGED = "membership.changed"


def publish_membership_changed(*, project_id: int, user_id: int) -> None:
    """After commit, tell the person's open sockets that their membership of the project changed or ended: a
    socket of that project re-reads it, closes if it is gone, and follows a new role or new sites at once."""
    event = {"type": MEMBERSHIP_CHANGED, "project": project_id}
    transaction.on_commit(partial(_send_event, user_group(user_id), event, f"membership change of project {project_id}"))


def publish(*, project_id: int, message: dict[str, Any]) -> None:
    """Push `message` to the project's browsers once the current transaction commits; nothing if it rolls back.

    `message["type"]` is one of MESSAGE_TYPES (ADMIN_MESSAGE_TYPES go to the project's admins only) and its
    values are JSON (datetimes and UUIDs become strings here). A bad message is a programming error and
    raises now, in the caller's tests.
    """
    kind = message.get("type")
    if kind not in MESSAGE_TYPES and kind not in ADMIN_MESSAGE_TYPES:
        raise ValueError(f"unknown realtime message type {kind!r}")
    payload = orjson.loads(orjson.dumps(message))
    group = project_admins_group(project_id) if kind in ADMIN_MESSAGE_TYPES else project_group(project_id)
    transaction.on_commit(partial(_send, project_id, payload, group))


def publish_queue_stats(*, project_id: int) -> None:
    """Push a `queue.stats` snapshot after commit, counted then so it shows the committed state.

    Snapshots are coalesced per project: the first change schedules one push LOUPE_STATS_PUSH_INTERVAL
    seconds later and the changes until then ride along, so a busy queue (hundreds of claims a second)
    costs one stats query a second, not one per claim. 0 pushes at once (tests); negative disables.
    """
    transaction.on_commit(partial(_schedule_queue_stats, project_id))


_scheduled: set[int] = set()
_scheduled_lock = threading.Lock()
_latest_change: dict[int, float] = {}  # when this process last committed a change to each project's queue
# How long the last count of each project's queue took. Counting is O(pending items): on a queue of a
# million items it takes most of a second, so the push interval stretches to keep counting under
# STATS_DUTY_CYCLE of the time this process spends on it.
_last_count_seconds: dict[int, float] = {}
STATS_DUTY_CYCLE = 0.1


def _schedule_queue_stats(project_id: int) -> None:
    interval = float(settings.LOUPE_STATS_PUSH_INTERVAL)
    if interval < 0:
        return
    if interval == 0:
        send_queue_stats(project_id)
        return
    with _scheduled_lock:
        _latest_change[project_id] = time.time()
        if project_id in _scheduled:
            return
        _scheduled.add(project_id)
    _start_timer(project_id, _push_interval(project_id))


def _push_interval(project_id: int) -> float:
    return max(float(settings.LOUPE_STATS_PUSH_INTERVAL), _last_count_seconds.get(project_id, 0.0) / STATS_DUTY_CYCLE)


def _start_timer(project_id: int, delay: float) -> None:
    timer = threading.Timer(delay, _flush_queue_stats, args=(project_id,))
    timer.daemon = True
    timer.start()


def _flush_queue_stats(project_id: int) -> None:
    with _scheduled_lock:
        changed_at = _latest_change.get(project_id, 0.0)
        _scheduled.discard(project_id)  # before counting: a change from now on schedules the next push
    try:
        wait = _shared_turn(project_id, changed_at)
        if wait is None:
            send_queue_stats(project_id)
        elif wait > 0:
            with _scheduled_lock:  # ask again when the other process's turn is over (unless already scheduled)
                if project_id in _scheduled:
                    return
                _scheduled.add(project_id)
            _start_timer(project_id, wait)
    finally:
        db.connection.close()  # this timer thread's own connection


def _shared_turn(project_id: int, changed_at: float) -> float | None:
    """Across the server's processes, one recount of a project's queue per interval (counting a large queue
    is the costly part; every process used to do its own). None: this process counts now. 0: another process
    began counting after this process's last change, so its snapshot shows it. > 0: another process counted
    earlier in the interval; ask again in that many seconds. Without Redis (the embedded mode, one process)
    every process counts. A Redis error counts anyway: a push is best effort, never lost to the lock."""
    client = _redis()
    if client is None:
        return None
    # Keyed by database too: servers of other databases (tests, benches) may share the Redis.
    key, started = f"loupe:queue-stats:{settings.DATABASES['default']['NAME']}:{project_id}", time.time()
    try:
        if client.set(key, repr(started), nx=True, px=max(1, int(_push_interval(project_id) * 1000))):
            return None
        holder, ttl_ms = client.get(key), client.pttl(key)
    except Exception:  # noqa: BLE001 - Redis down or slow: count here rather than leave browsers stale
        logger.warning("queue stats turn for project %s: Redis failed; counting here", project_id, exc_info=True)
        return None
    if holder is not None and float(holder) >= changed_at:
        return 0.0
    return max(ttl_ms, 10) / 1000 if ttl_ms and ttl_ms > 0 else 0.01


_redis_client: Any = None


def _redis() -> Any:
    """A client of REDIS_URL for the recount turns (None in the embedded mode)."""
    global _redis_client
    if _redis_client is None and settings.REDIS_URL:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1.0)
    return _redis_client


def send_queue_stats(project_id: int) -> None:
    started = time.perf_counter()
    try:
        stats = queue_stats(project_id)
        _last_count_seconds[project_id] = time.perf_counter() - started
    except Exception:  # best effort: the write is already committed and must still succeed
        logger.exception("queue stats for project %s could not be computed; push skipped", project_id)
        return
    _send(project_id, {"type": "queue.stats", **stats})


def _send(project_id: int, payload: dict[str, Any], group: str | None = None) -> None:
    _send_event(group or project_group(project_id), {"type": "project.event", "payload": payload},
                f"{payload.get('type')} push to project {project_id}")


def _send_event(group: str, event: dict[str, Any], what: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop
    if loop is not None and loop.is_running():
        # A request thread of the server: hand the push to the server's loop and return at once (the loop
        # keeps the channel layer's Redis connections; a loop per push would open new ones every time).
        future = asyncio.run_coroutine_threadsafe(_group_send(layer, group, event), loop)
        future.add_done_callback(partial(_log_failure, what))
        return
    try:  # management commands, Celery workers, tests: no server loop to borrow
        async_to_sync(_group_send)(layer, group, event)
    except Exception:  # best effort: Redis down, layer full, timeout; the next snapshot repairs clients
        logger.exception("realtime %s failed", what)


def _log_failure(what: str, future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("realtime %s failed", what, exc_info=future.exception())


async def _group_send(layer: Any, group: str, event: dict[str, Any]) -> None:
    await asyncio.wait_for(layer.group_send(group, event), timeout=SEND_TIMEOUT_SECONDS)


_server_loop: asyncio.AbstractEventLoop | None = None


class BindLoopMiddleware:
    """ASGI middleware: remembers the server's event loop, where pushes from request threads are sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        global _server_loop
        _server_loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)
