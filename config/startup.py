"""Refuse to start on bad configuration with one clear paragraph, not a stack trace.

Two moments: a malformed setting fails while the settings load (config/env.py raises ConfigError; the entry
points turn it into a message and exit code 2), and a dependency that does not answer at start (a database
URL that leads nowhere, a bucket that does not exist, a Redis that is not there) fails the ASGI lifespan's
start-up: uvicorn logs the message and exits with code 3 before it accepts a connection. After the start,
/readyz reports the same checks while the process keeps running (config/health.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from config.env import ConfigError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

EXIT_BAD_CONFIGURATION = 2


@contextmanager
def exit_on_configuration_error(what: str = "Loupe") -> Iterator[None]:
    """Around loading the settings: a ConfigError becomes one paragraph on stderr and exit code 2."""
    try:
        yield
    except ConfigError as exc:
        print(f"{what} cannot start: {exc}. Fix the setting in the environment and start again.",  # noqa: T201
              file=sys.stderr, flush=True)
        raise SystemExit(EXIT_BAD_CONFIGURATION) from None


def startup_problems(timeout: float) -> list[str]:
    """A sentence per dependency that does not answer, naming the setting that leads to it."""
    from config.health import FAILING, OPTIONAL_CHECKS, SETTING_OF, run_checks

    problems = []
    for name, outcome in run_checks(timeout).items():
        if outcome.status != FAILING or outcome.reason.endswith("migrations not applied"):
            continue  # migrations may be running now (the migrate job): /readyz waits for them
        if name in OPTIONAL_CHECKS:
            continue  # a replica that does not answer costs the dashboards only: /readyz reports it
        detail = outcome.detail or (database_error(timeout) if name == "database" else "")
        detail = f" ({detail})" if detail else ""
        problems.append(f"{SETTING_OF[name]}: the {name} check failed: {outcome.reason}{detail}")
    return problems


def database_error(timeout: float) -> str:
    """Why PostgreSQL does not answer, from one direct connection (the pool only says it waited in vain)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    import psycopg

    params = {**connection.get_connection_params(), "connect_timeout": max(1, int(timeout))}
    params.pop("pool", None)
    params.pop("cursor_factory", None)
    params.pop("context", None)
    try:
        psycopg.connect(**params).close()
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    return ""


class StartupChecks:
    """ASGI wrapper: answers the lifespan protocol (Channels' router does not) and checks the dependencies at
    start; every other scope goes to the app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *, enabled: bool,
                 timeout: float) -> None:
        self.app, self.enabled, self.timeout = app, enabled, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                problems = await asyncio.to_thread(startup_problems, self.timeout) if self.enabled else []
                if problems:
                    await send({"type": "lifespan.startup.failed", "message": (
                        "Loupe cannot start: " + "; ".join(problems) + ". Check that each service runs and that "
                        "the setting points at it (LOUPE_STARTUP_CHECKS=false starts anyway; /readyz then "
                        "reports the same).")})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
