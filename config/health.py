"""Is this process fit to serve? The dependency checks behind /readyz and the start-up check, and /metrics.

/healthz (config/urls.py) says the process is up and touches nothing, so a database outage never makes an
orchestrator restart every web process. /readyz says whether requests can be served now: the database answers
and its migrations are applied, Redis answers (when there is one), media storage takes a file. A full disk is
not unreadiness (the UI can still show and review what is stored): it is the `loupe_media_disk_bytes` metric
and an alert. Each check runs in its own thread and gets `LOUPE_READYZ_TIMEOUT_SECONDS`: a dependency that
hangs is reported as not answering instead of hanging the probe. Answers name the part and a short reason,
never a host, a URL or a secret; the details go to the log.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.files.storage import storages
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from annotations import metrics
from annotations.dbrouting import REPLICA, replica_configured
from annotations.throttling import request_client_address

logger = logging.getLogger(__name__)

OK, FAILING, SKIPPED = "ok", "failing", "skipped"


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str = ""  # short and public: said in /readyz
    detail: str = ""  # for the operator: the log and the start-up message


# --- the checks ----------------------------------------------------------------------------------------

_migrations_applied = False  # once true it stays true: migrations are never unapplied under a running server


def check_database() -> Outcome:
    global _migrations_applied
    try:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            if not _migrations_applied:
                executor = MigrationExecutor(connection)
                pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
                if pending:
                    return Outcome(FAILING, f"{len(pending)} migrations not applied",
                                   "run `python manage.py migrate`")
                _migrations_applied = True
        finally:
            connections.close_all()  # this thread's connection goes back to the pool (or is closed)
    except Exception as exc:
        return Outcome(FAILING, f"unreachable ({type(exc).__name__})", _first_line(exc))
    return Outcome(OK)


def check_replica() -> Outcome:
    """The dashboards' read replica (DATABASE_REPLICA_URL) answers. Reported, never unreadiness: the review
    flow reads and writes the primary only, so a replica outage costs the dashboards, not the whole UI."""
    try:
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connections.close_all()  # as check_database: this thread's connections go back to their pools
    except Exception as exc:
        return Outcome(FAILING, f"unreachable ({type(exc).__name__})", _first_line(exc))
    return Outcome(OK)


_redis_clients: dict[str, redis.Redis] = {}


def check_redis() -> Outcome:
    url = settings.REDIS_URL
    if not url:
        return Outcome(SKIPPED, "embedded mode: no Redis")
    client = _redis_clients.get(url)
    if client is None:
        timeout = settings.LOUPE_READYZ_TIMEOUT_SECONDS
        client = _redis_clients[url] = redis.Redis.from_url(url, socket_connect_timeout=timeout,
                                                            socket_timeout=timeout)
    try:
        client.ping()
    except Exception as exc:
        return Outcome(FAILING, f"unreachable ({type(exc).__name__})", _first_line(exc))
    return Outcome(OK)


def check_media() -> Outcome:
    storage = storages["default"]
    bucket = getattr(storage, "bucket_name", None)
    if bucket is not None:
        return _check_bucket(storage, bucket)
    root = Path(settings.MEDIA_ROOT)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".readyz-"):
            pass
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Outcome(OK, "disk full (see loupe_media_disk_bytes)", _first_line(exc))
        return Outcome(FAILING, f"not writable ({type(exc).__name__})", f"{root}: {_first_line(exc)}")
    return Outcome(OK)


def _check_bucket(storage: Any, bucket: str) -> Outcome:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        storage.connection.meta.client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return Outcome(FAILING, "the bucket does not exist", f"bucket {bucket!r} does not exist")
        return Outcome(FAILING, f"the bucket refused ({code})", f"bucket {bucket!r}: {_first_line(exc)}")
    except BotoCoreError as exc:
        return Outcome(FAILING, f"unreachable ({type(exc).__name__})", _first_line(exc))
    return Outcome(OK)


CHECKS: dict[str, Callable[[], Outcome]] = {"database": check_database, "redis": check_redis, "media": check_media}
# Checked when configured, reported, but never unreadiness nor a reason to refuse the start.
OPTIONAL_CHECKS: dict[str, Callable[[], Outcome]] = {"replica": check_replica}
# The setting to look at when a part fails at start.
SETTING_OF = {"database": "DATABASE_URL", "redis": "REDIS_URL", "media": "MEDIA_STORAGE",
              "replica": "DATABASE_REPLICA_URL"}


def active_checks() -> dict[str, Callable[[], Outcome]]:
    return {**CHECKS, **({"replica": OPTIONAL_CHECKS["replica"]} if replica_configured() else {})}


def run_checks(timeout: float) -> dict[str, Outcome]:
    """Every check at once, each in its own thread, all within `timeout` seconds."""
    results: dict[str, Outcome] = {}
    threads = []
    for name, check in active_checks().items():
        def run(name: str = name, check: Callable[[], Outcome] = check) -> None:
            results[name] = check()
        # Daemon: a check stuck in a dead connection must not keep the process from exiting.
        thread = threading.Thread(target=run, name=f"readyz-{name}", daemon=True)
        thread.start()
        threads.append((name, thread))
    for name, thread in threads:
        thread.join(timeout)  # the threads run side by side: the total stays about `timeout`
        if name not in results:
            results[name] = Outcome(FAILING, f"no answer within {timeout:g} s")
    return dict(sorted(results.items()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# --- the views -----------------------------------------------------------------------------------------


def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks(settings.LOUPE_READYZ_TIMEOUT_SECONDS)
    down = [name for name, outcome in results.items() if outcome.status == FAILING]
    for name in down:
        logger.warning("not ready: %s %s (%s)", name, results[name].reason, results[name].detail)
    failing = [name for name in down if name not in OPTIONAL_CHECKS]
    degraded = {"degraded": [name for name in down if name in OPTIONAL_CHECKS]} if len(failing) < len(down) else {}
    checks = {name: {"status": o.status, **({"reason": o.reason} if o.reason else {})} for name, o in results.items()}
    if failing:
        return JsonResponse({"status": "unready", "failing": failing, **degraded, "checks": checks}, status=503)
    return JsonResponse({"status": "ready", **degraded, "checks": checks})


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape. Without a token or networks configured, only loopback may read it, and only
    outside production, so a fresh production deployment never shows its figures to the world."""
    token, networks = settings.LOUPE_METRICS_TOKEN, settings.LOUPE_METRICS_NETWORKS
    address = request_client_address(request)
    if not token and not networks and (settings.LOUPE_PRODUCTION or not _is_loopback(address)):
        raise Http404
    if networks and not _in_networks(address, networks):
        raise Http404
    if token and not _bearer_matches(request, token):
        response = JsonResponse({"error": {"code": "not_authenticated", "message": "A bearer token is needed.",
                                           "details": {}}}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in ipaddress.ip_network(network, strict=False) for network in networks)
