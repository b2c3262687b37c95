"""Domain events of projects and their people, for the apps that care (DESIGN.md: `annotations` imports neither
`reviewer` nor `activelearning`; they subscribe in their AppConfig.ready()).

`emit` calls every subscriber synchronously, inside the caller's transaction; a subscriber that must act only
once the change is committed (a WebSocket push) uses `transaction.on_commit`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Literal

# `membership_changed(project_id, user_id)`: a member's role or sites changed, or they left the project.
EventName = Literal["membership_changed"]
Subscriber = Callable[..., None]

_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(name: EventName, subscriber: Subscriber) -> None:
    if subscriber not in _subscribers[name]:
        _subscribers[name].append(subscriber)


def emit(name: EventName, **payload: Any) -> None:
    for subscriber in list(_subscribers[name]):
        subscriber(**payload)
