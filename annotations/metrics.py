"""Prometheus metrics: the one module every layer records through, and the scrape that reads them.

Events are counted where they happen (the services) with the counters and histograms below. What is a state
rather than an event (queue depth, device heartbeat age, drift, Celery queue lengths) is read at scrape time
by collectors that each app adds in its `AppConfig.ready()` with `add_collector`: this module sits in the
lowest layer, so it can never import the tables of the apps above it.

Several processes (uvicorn workers, Celery workers and their children): with PROMETHEUS_MULTIPROC_DIR set,
prometheus-client keeps each process's counts in memory-mapped files in that folder and a scrape sums them, so
any process answers for all. The folder must be shared by every process of one machine (or pod) and emptied
before they start (the counts of a previous run would otherwise be added). Unset: one process, the default
registry. Nothing here is a live gauge, so the folder needs no clean-up when a process dies.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

import loupe_wire as wire

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# Requests answer in milliseconds, jobs in seconds to hours: two sets of buckets.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0)

# result: loupe_wire's words (created, duplicate, rejected).
INGEST_EVENTS = Counter("loupe_ingest_events", "Device events ingested, by result.", ["result"])
CLAIM_SECONDS = Histogram("loupe_claim_seconds", "Time to claim the next review item (found or not).",
                          ["found"], buckets=_REQUEST_BUCKETS)
SUBMIT_SECONDS = Histogram("loupe_submit_seconds", "Time to store a submitted annotation.", buckets=_REQUEST_BUCKETS)
# result: done or failed (a skipped item costs nothing and is not timed).
PRELABEL_SECONDS = Histogram("loupe_prelabel_seconds", "Server pre-label time per item, inference included.",
                             ["result"], buckets=_REQUEST_BUCKETS + (20.0, 60.0))
EXPORT_SECONDS = Histogram("loupe_export_seconds", "Dataset export duration, by outcome.", ["status"],
                           buckets=_JOB_BUCKETS)
TRAINING_SECONDS = Histogram("loupe_training_seconds", "Training run duration on this server, by outcome.",
                             ["status"], buckets=_JOB_BUCKETS)
# outcome: retrying (tried again after a backoff) or failed (given up).
WEBHOOK_FAILURES = Counter("loupe_webhook_delivery_failures", "Webhook delivery attempts that failed.", ["outcome"])

# Every series exists from the start at 0, so a rate() or a dashboard panel has data before the first event.
for _counter, _label, _values in ((INGEST_EVENTS, "result", (wire.CREATED, wire.DUPLICATE, wire.REJECTED)),
                                  (CLAIM_SECONDS, "found", ("true", "false")),
                                  (PRELABEL_SECONDS, "result", ("done", "failed")),
                                  (EXPORT_SECONDS, "status", ("done", "failed")),
                                  (TRAINING_SECONDS, "status", ("succeeded", "failed")),
                                  (WEBHOOK_FAILURES, "outcome", ("retrying", "failed"))):
    for _value in _values:
        _counter.labels(**{_label: _value})


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[dict[str, str]]:
    """Observe the block's wall time; the block may set or change labels in the yielded dict (e.g. the outcome)."""
    chosen = dict(labels)
    started = time.perf_counter()
    try:
        yield chosen
    finally:
        metric = histogram.labels(**chosen) if chosen else histogram
        metric.observe(time.perf_counter() - started)


def timed_calls(histogram: Histogram) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Observe each call's wall time (failed calls included). Put it above `@transaction.atomic`, so the
    commit is part of the time."""
    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with histogram.time():
                return function(*args, **kwargs)
        return wrapper
    return decorate


# --- scrape-time collectors ----------------------------------------------------------------------------

ScrapeCollector = Callable[[], Iterable[Metric]]
_collectors: dict[str, ScrapeCollector] = {}


def add_collector(name: str, collect: ScrapeCollector) -> None:
    """Read a state at each scrape (once per scrape, in the scraping process). Registering a name again
    replaces it, so a reloaded app never reports twice."""
    _collectors[name] = collect


class _ScrapeTime(Collector):
    def collect(self) -> Iterator[Metric]:
        failed = GaugeMetricFamily("loupe_metrics_collector_failed", "1 when a scrape-time collector failed.",
                                   labels=["collector"])
        for name, collect in list(_collectors.items()):
            # A collector that fails (its database down) costs its own series only, never the whole scrape.
            try:
                yield from list(collect())
            except Exception:
                logger.warning("metrics collector %s failed", name, exc_info=True)
                failed.add_metric([name], 1.0)
            else:
                failed.add_metric([name], 0.0)
        yield failed


_SCRAPE_TIME = _ScrapeTime()


class _Together(Collector):
    """Several collectors read as one (generate_latest and start_http_server each take one)."""

    def __init__(self, *parts: Collector) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def counted() -> Collector:
    """The counters and histograms: every process's (multiprocess mode, read from the folder at each collect)
    or this process's (the default registry)."""
    if multiprocess_dir() is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def exposition() -> tuple[bytes, str]:
    """The text of one scrape and its content type: the counts (`counted`) plus the scrape-time states."""
    return generate_latest(_Together(counted(), _SCRAPE_TIME)), CONTENT_TYPE_LATEST


def serve_counts(*, port: int, addr: str) -> None:
    """A Prometheus HTTP server in a thread of this process, for a process that has no /metrics of its own (a
    Celery worker in its own pod). It serves the counts only: the scrape-time states are read from the database
    and are the same whichever process reads them, so the web's /metrics serves them once; every worker pod
    serving them again would repeat those queries at each scrape and double the series."""
    start_http_server(port, addr=addr, registry=counted())


# --- the states this layer can see ------------------------------------------------------------------------

# A device that has not been heard from for this long counts as silent (heartbeats come every minute or so).
SILENT_DEVICE_SECONDS = 600


def device_heartbeats() -> Iterator[Metric]:
    """The oldest heartbeat among the devices that are not revoked, and how many are silent: two series
    whatever the fleet's size (a series per device would grow without bound)."""
    from django.db.models import Count, Min, Q
    from django.utils import timezone

    from annotations.models import Device

    now = timezone.now()
    stats = Device.objects.filter(revoked_at__isnull=True).aggregate(
        oldest=Min("last_seen_at"), devices=Count("id"),
        silent=Count("id", filter=Q(last_seen_at__isnull=True)
                     | Q(last_seen_at__lt=now - timedelta(seconds=SILENT_DEVICE_SECONDS))))
    age = GaugeMetricFamily("loupe_device_heartbeat_age_seconds_max",
                            "Seconds since the least recently heard device's last heartbeat.")
    age.add_metric([], (now - stats["oldest"]).total_seconds() if stats["oldest"] else 0.0)
    yield age
    devices = GaugeMetricFamily("loupe_devices", "Devices (not revoked), and how many are silent.",
                                labels=["state"])
    devices.add_metric(["all"], float(stats["devices"]))
    devices.add_metric(["silent"], float(stats["silent"]))
    yield devices


def celery_queue_lengths() -> Iterator[Metric]:
    """Messages waiting in each Celery queue (an LLEN per queue in the broker); nothing in the embedded mode."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", None)
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        lengths = GaugeMetricFamily("loupe_celery_queue_length", "Messages waiting in a Celery queue.",
                                    labels=["queue"])
        for queue in celery_queues(settings):
            lengths.add_metric([queue], float(client.llen(queue)))
        yield lengths
    finally:
        client.close()


def celery_queues(settings: object) -> list[str]:
    """The queue names: the default queue and every queue a task route names."""
    names = {str(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"))}
    routes = getattr(settings, "CELERY_TASK_ROUTES", None) or {}
    if isinstance(routes, dict):
        names.update(str(route["queue"]) for route in routes.values() if isinstance(route, dict) and "queue" in route)
    return sorted(names)


def media_disk() -> Iterator[Metric]:
    """Free and total bytes of the disk that holds local media: a full disk is an alert, not unreadiness."""
    from django.conf import settings

    if str(getattr(settings, "MEDIA_STORAGE", "")).startswith("s3://"):
        return
    usage = shutil.disk_usage(settings.MEDIA_ROOT)
    disk = GaugeMetricFamily("loupe_media_disk_bytes", "The local media disk's size and free space.", labels=["kind"])
    disk.add_metric(["free"], float(usage.free))
    disk.add_metric(["total"], float(usage.total))
    yield disk
