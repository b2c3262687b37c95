"""The project WebSocket (`/ws/projects/{id}/`): members hear queue and item changes as they commit."""

from __future__ import annotations

from typing import Any

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from annotations.errors import NotFound
from annotations.models import Role
from annotations.selectors import access_project
from reviewer.realtime import project_admins_group, project_group
from reviewer.selectors import queue_stats

# Close codes in the 4000 range (application-defined), mirroring the HTTP statuses.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _role_in(user: AbstractBaseUser | AnonymousUser, project_id: int) -> str | None:
    """The user's role in the project; None for a non-member (or a project that does not exist)."""
    try:
        _, membership = access_project(user=user, project_id=project_id)
    except NotFound:
        return None
    return str(membership.role)


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    """Session-authenticated, members only; sends a `queue.stats` snapshot, then every committed event.

    Refusals accept the handshake and then close with 4401/4403, because a close before accept reaches
    browsers as a bare 403 on the HTTP upgrade, without the code.
    """

    groups_joined: tuple[str, ...] = ()  # the groups this connection joined (none if refused)

    async def connect(self) -> None:
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # A missing project and a foreign one look the same, so ids of other projects do not leak.
        role = await _role_in(user, project_id)
        if role is None:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Join before counting: a change committed in between arrives as an event after the snapshot.
        self.groups_joined = ((project_group(project_id), project_admins_group(project_id)) if role == Role.ADMIN
                              else (project_group(project_id),))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        stats = await database_sync_to_async(queue_stats)(project_id)
        await self.send_json({"type": "queue.stats", **stats})

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def project_event(self, event: dict[str, Any]) -> None:
        """A message `reviewer.realtime.publish` sent to the project's group after commit."""
        await self.send_json(event["payload"])

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
