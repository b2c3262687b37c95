"""Loupe's domain events, one vocabulary for every app (DESIGN.md): an app emits what happened, and the apps that
care subscribe in their AppConfig.ready(), so `annotations` imports neither `reviewer` nor `activelearning`, and
`reviewer` never imports `activelearning`.

`emit` calls every subscriber synchronously, inside the caller's transaction: a subscriber whose effect must be
atomic with the change (counting toward the retraining threshold) simply writes; one that must act later writes
an outbox row or uses `transaction.on_commit` (a WebSocket push). An exception in a subscriber rolls the change
back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Literal

# `membership_changed(project_id, user_id)`: a member's role or sites changed, or they left the project.
# `item_accepted(...)`: QA accepted a review item (reviewer.services); learning counts it toward retraining.
EventName = Literal["membership_changed", "item_accepted"]
Subscriber = Callable[..., None]

_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(name: EventName, subscriber: Subscriber) -> None:
    if subscriber not in _subscribers[name]:
        _subscribers[name].append(subscriber)


def emit(name: EventName, **payload: Any) -> None:
    for subscriber in list(_subscribers[name]):
        subscriber(**payload)
