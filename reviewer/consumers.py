"""The project WebSocket (`/ws/projects/{id}/`): members hear queue and item changes as they commit.

What a socket may hear is re-decided while it is open, not only at connect: when a member's role or sites change
or they are removed, their sockets are told at once (a `membership.changed` message to their own group) and
follow the new access or close with 4403; and every relayed message is checked against the member's current
access (re-read at most every LOUPE_WS_ACCESS_RECHECK_SECONDS), which also catches changes made without that
message (Django admin, a deleted account) and a lost one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from annotations.int64 import INT64_MAX
from annotations.models import SCOPED_ROLES, Membership, Role, Site
from reviewer.realtime import ADMIN_MESSAGE_TYPES, project_admins_group, project_group, user_group
from reviewer.selectors import queue_stats, scoped_queue_stats

# Close codes in the 4000 range (application-defined), mirroring the HTTP statuses.
CLOSE_UNAUTHENTICATED = 4401
# Not a member: refused at connect, or removed from the project while connected (the client stops retrying).
CLOSE_FORBIDDEN = 4403


@dataclass(frozen=True)
class SocketAccess:
    """What one member may hear of a project: their role and, for managers and operators, their sites."""

    role: str
    site_names: dict[int, str] = field(default_factory=dict)  # id -> name; only for scoped roles

    @property
    def scoped(self) -> bool:
        return self.role in SCOPED_ROLES


def visible_part(access: SocketAccess, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The part of a pushed message this member may see; None for nothing. Admin-only messages reach admins; a
    message about one site (it carries `site`) reaches a scoped member only for one of their sites (an item
    without a site is outside every scope, as in the claim); `queue.stats` shows a scoped member their sites."""
    if payload.get("type") in ADMIN_MESSAGE_TYPES and access.role != Role.ADMIN:
        return None
    if not access.scoped:
        return payload
    if "site" in payload and payload["site"] not in access.site_names:
        return None
    if payload.get("type") == "queue.stats":
        return scoped_queue_stats(payload, set(access.site_names.values()))
    return payload


def read_access(user_id: int, project_id: int) -> SocketAccess | None:
    """The member's current access; None if they are not a member (any more) or their account is disabled."""
    row = (Membership.objects.filter(project_id=project_id, user_id=user_id, user__is_active=True)
           .values_list("pk", "role").first())
    if row is None:
        return None
    membership_id, role = row
    sites = (dict(Site.objects.filter(scoped_members=membership_id).values_list("pk", "name"))
             if role in SCOPED_ROLES else {})
    return SocketAccess(role=str(role), site_names=sites)


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    """Session-authenticated, members only; sends a `queue.stats` snapshot, then every committed event.

    Refusals accept the handshake and then close with 4401/4403, because a close before accept reaches
    browsers as a bare 403 on the HTTP upgrade, without the code.
    """

    groups_joined: tuple[str, ...] = ()  # the groups this connection joined (none if refused or closed)
    project_id: int
    user_id: int
    access: SocketAccess | None = None
    access_read_at: float = float("-inf")  # time.monotonic() of the last read of `access`

    async def connect(self) -> None:
        self.project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = int(user.pk)
        # A missing project and a foreign one look the same, so ids of other projects do not leak; an id past
        # 64 bits names no project (and would be an OverflowError in SQLite's driver).
        access = await self._current_access(fresh=True) if self.project_id <= INT64_MAX else None
        if access is None:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Join before counting: a change committed in between arrives as an event after the snapshot.
        await self._join_groups(access)
        await self.accept()
        await self._send_stats(access)

    async def disconnect(self, code: int) -> None:
        await self._leave_groups()

    async def project_event(self, event: dict[str, Any]) -> None:
        """A message `reviewer.realtime.publish` sent to the project's group after commit."""
        if not self.groups_joined:  # closed: messages already on their way are dropped
            return
        access = await self._current_access()
        if access is None:
            await self._close_removed()
            return
        payload = visible_part(access, event["payload"])
        if payload is not None:
            await self.send_json(payload)

    async def membership_changed(self, event: dict[str, Any]) -> None:
        """`reviewer.realtime.publish_membership_changed`: this person's role or sites changed, or they left."""
        if event.get("project") != self.project_id or not self.groups_joined:
            return
        access = await self._current_access(fresh=True)
        if access is None:
            await self._close_removed()
            return
        await self._join_groups(access)  # an admin demoted leaves the admins' group, one promoted joins it
        await self._send_stats(access)  # the snapshot of their new scope

    async def _current_access(self, *, fresh: bool = False) -> SocketAccess | None:
        now = time.monotonic()
        if fresh or now - self.access_read_at >= float(settings.LOUPE_WS_ACCESS_RECHECK_SECONDS):
            self.access = await database_sync_to_async(read_access)(self.user_id, self.project_id)
            self.access_read_at = now
        return self.access

    async def _join_groups(self, access: SocketAccess) -> None:
        wanted: tuple[str, ...] = (project_group(self.project_id), user_group(self.user_id))
        if access.role == Role.ADMIN:
            wanted += (project_admins_group(self.project_id),)
        for group in set(wanted) - set(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)
        for group in set(self.groups_joined) - set(wanted):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = wanted

    async def _leave_groups(self) -> None:
        joined, self.groups_joined = self.groups_joined, ()
        for group in joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _close_removed(self) -> None:
        # Leave the groups first: nothing more is relayed while the browser acknowledges the close.
        await self._leave_groups()
        await self.close(code=CLOSE_FORBIDDEN, reason="not a member of this project")

    async def _send_stats(self, access: SocketAccess) -> None:
        stats = await database_sync_to_async(queue_stats)(self.project_id)
        payload = visible_part(access, {"type": "queue.stats", **stats})
        if payload is not None:
            await self.send_json(payload)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # The channel is server to client; a binary or malformed frame is ignored rather than ending it.
        if not text_data:
            return
        try:
            content = await self.decode_json(text_data)
        except orjson.JSONDecodeError:
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return orjson.loads(text_data)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        # JSON string encoding is the escaping: a "<script>" label arrives as a string value, not markup.
        return orjson.dumps(content).decode()
