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
from typing import Any, Literal, get_args

# Every event carries `project_id`; the other keywords are its facts (for the learning events, exactly the body
# a webhook subscriber sends as `payload`). One spelling everywhere, the webhooks' (`item.accepted`).
# - `membership.changed(user_id)`: a member's role or sites changed, or they left the project (annotations).
# - `item.accepted(item)`: QA accepted a review item (reviewer); learning counts it toward retraining.
# - `threshold.reached(epoch, accepted, request, site)`: enough accepted corrections to retrain (training).
# - `training.finished(run, status, model, error)`: a training run ended, either way (training).
# - `model.promoted(model, sha256, version, replaces, rolled_back)`: a new champion (registry).
# - `drift.alert(camera, …)`: a camera's drift crossed its threshold (monitoring).
# - `rollout.halted(rollout, model, previous, stage, reason)`: a failed gate stopped a staged rollout and its
#   devices went back to the champion (rollouts).
# - `alert.opened(alert, kind, severity, subject_type, subject_id, subject, site, opened_at, details)` and
#   `alert.resolved(…, resolved_at)`: an alert rule started or stopped being violated by a subject (alerts).
EventName = Literal["membership.changed", "item.accepted", "threshold.reached", "training.finished",
                    "model.promoted", "drift.alert", "rollout.halted", "alert.opened", "alert.resolved"]
EVENT_NAMES: frozenset[str] = frozenset(get_args(EventName))
Subscriber = Callable[..., None]

_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(name: EventName, subscriber: Subscriber) -> None:
    if name not in EVENT_NAMES:  # a misspelt name would subscribe to nothing, silently
        raise ValueError(f"no domain event is called {name!r}")
    if subscriber not in _subscribers[name]:
        _subscribers[name].append(subscriber)


def emit(name: EventName, **payload: Any) -> None:
    for subscriber in list(_subscribers[name]):
        subscriber(**payload)
