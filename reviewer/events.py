"""Domain events of the review workflow, for the apps that care (DESIGN.md: `reviewer` never imports
`activelearning`; `activelearning` subscribes in its AppConfig.ready()).

`emit` calls every subscriber synchronously, inside the caller's transaction: a subscriber whose effect must be
atomic with the change (counting toward the retraining threshold) simply writes; one that must act later
writes an outbox row or uses `transaction.on_commit`. An exception in a subscriber rolls the change back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Literal

EventName = Literal["item_accepted"]
Subscriber = Callable[..., None]

_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(name: EventName, subscriber: Subscriber) -> None:
    if subscriber not in _subscribers[name]:
        _subscribers[name].append(subscriber)


def emit(name: EventName, **payload: Any) -> None:
    for subscriber in list(_subscribers[name]):
        subscriber(**payload)
