"""The uploader: drains the outbox to the server, media first, in batches, and never loses or duplicates.

Per batch: each media the events need is made present on the server (HEAD, then PUT if missing; media under
HEAD_MIN_BYTES is PUT at once), a few uploads at a time, then the
events are POSTed together. Per-event results decide each event's fate: `created`/`duplicate` → sent;
`rejected` with `asset_missing` → the media is uploaded again and the event retried; any other rejection (and
a 4xx refusing the whole batch) → kept as rejected with the server's error, never retried. 401/403 stop the
uploader (a revoked token) with events still pending.

Transient failures are told apart (edge/backoff.py, docs/edge.md): a failure of the link (`LinkDown`: no
connection, a cut, a gateway's 502/503/504) stops sending and probes until the server answers, charging
nothing to the events; the server asking us to wait (`ServerBusy`: 429, or 503 with Retry-After) holds
everything until then; a 5xx answering one batch or one media upload (`ItemFailure`) defers just those
events on their own backoff while the rest goes on.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from edge.backoff import Backoff, LinkState
from edge.outbox import Outbox, QueuedEvent
from edge.spool import HashMismatch, Spool, sniff_content_type
from loupe_wire.results import ASSET_MISSING, DELIVERED

DEFAULT_BATCH = 500  # the server's default LOUPE_MAX_BATCH_EVENTS
MAX_ASSET_MISSING = 5  # re-uploads before an event whose media the server keeps missing is given up
MAX_RETRY_AFTER = 3600.0
# Media below this size is PUT without a HEAD first: re-sending what the server has is a cheap, idempotent 200,
# and a device's frames are nearly always new, so for small ones the extra round trip is pure cost
# (bench/edge.py, 64×48 JPEGs: a HEAD per frame cut the drain rate by about a third). Clips and large frames,
# where skipping a re-upload saves real bandwidth, are still asked for first.
HEAD_MIN_BYTES = 64 * 1024
# The reachability probe: unauthenticated, touches no database (config/urls.py), so a fleet probing during an
# outage costs the server next to nothing.
PROBE_PATH = "/healthz"
PROBE_TIMEOUT = 5.0  # a black-holed link should not hold a probe for the client's full request timeout
# Answers a gateway gives when it cannot reach the server behind it: the link, not the request, is at fault.
GATEWAY_DOWN = frozenset({502, 503, 504})


class AuthError(RuntimeError):
    """The server refused the device token (401/403): revoked or wrong. Retrying cannot help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"the server refused this device's token (HTTP {status} {code}): {message} "
                         "— events stay queued; give the device a new token")
        self.status, self.code = status, code


class TransientError(RuntimeError):
    """The server could not be reached or asked us to come back later; retry with backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LinkDown(TransientError):
    """The server could not be reached (no connection, a cut or timed-out answer, a gateway's 502/503/504)."""


class ServerBusy(TransientError):
    """The server asked us to wait (429, or 503 with Retry-After): hold every request until then."""


class ItemFailure(TransientError):
    """The server answered this one request with an error (a 5xx on this batch or this media): retry just it."""


@dataclass
class DrainReport:
    sent: int = 0
    rejected: int = 0
    retried: int = 0  # events deferred by a transient failure (each attempt counted)
    failures: int = 0  # transient failures of real requests (link down, told to wait, a 5xx on a batch)
    probes: int = 0  # reachability probes sent while the link was down
    batches: int = 0
    media_uploaded: int = 0
    errors: list[str] = field(default_factory=list)


def error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error.get("code", "error")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        if response.status_code in (401, 403):
            return "token_refused", "the device token is revoked or unknown"
        return "http_" + str(response.status_code), response.text[:200]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def raise_for_common(response: httpx.Response, what: str) -> None:
    """Map the statuses every device call shares: 401/403 stop; 429/5xx are transient, told apart by whom
    they are about (the link, the server's load, or this one request)."""
    status = response.status_code
    if status in (401, 403):
        raise AuthError(status, *error_of(response))
    retry_after = _retry_after(response)
    if status == 429 or (status == 503 and retry_after is not None):
        raise ServerBusy(f"{what}: HTTP {status}", retry_after=retry_after)
    if status in GATEWAY_DOWN:
        raise LinkDown(f"{what}: HTTP {status}")
    if status >= 500:
        raise ItemFailure(f"{what}: HTTP {status}")


class Uploader:
    """Sends the outbox to the server. `clock`, `sleep` and the backoff's `random` are injectable so tests
    run the whole retry schedule without real waits.

    `backoff` is the schedule of a single batch or media file the server keeps failing; the link's own state
    (`link`, shared with whatever else talks through `http`: every answer on that client counts) decides
    when anything is sent at all."""

    def __init__(self, *, http: httpx.Client, outbox: Outbox, spool: Spool, batch_size: int = DEFAULT_BATCH,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, head_min_bytes: int = HEAD_MIN_BYTES,
                 upload_workers: int = 4, link: LinkState | None = None) -> None:
        self.http = http
        self.outbox = outbox
        self.spool = spool
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.sleep = sleep
        self.head_min_bytes = head_min_bytes  # media smaller than this is PUT without a HEAD (HEAD_MIN_BYTES)
        self.upload_workers = upload_workers  # concurrent media uploads (httpx.Client is thread-safe)
        self.link = link or LinkState(clock=clock, random=self.backoff.random, hold_cap=self.backoff.cap)
        # Every answer on this client, the heartbeat's and the model poll's included, proves the link works.
        http.event_hooks["response"].append(self._heard)
        self._count_lock = threading.Lock()
        self._on_server: set[str] = set()  # media the server is known to have (this process's lifetime)

    def _heard(self, response: httpx.Response) -> None:
        status = response.status_code
        # A probe's answer only brings the next attempt forward (LinkState.probed); a 5xx or 408/429 is no
        # proof that real requests get through.
        if not response.request.url.path.endswith(PROBE_PATH) and status < 500 and status not in (408, 429):
            self.link.answered()

    # --- the loop -------------------------------------------------------------------------------------

    def drain(self, *, deadline: float | None = None) -> DrainReport:
        """Send until nothing is pending (or `deadline` on the injected clock passes). Raises AuthError."""
        report = DrainReport()
        while deadline is None or self.clock() < deadline:
            next_due = self.outbox.next_due_at()
            if next_due is None:
                break
            now = self.clock()
            ready_at = max(next_due, self.link.ready_at())
            if ready_at > now:
                self.sleep((ready_at if deadline is None else min(ready_at, deadline)) - now)
                continue
            if not self.link.up:
                self.probe(report)
                continue
            batch = self.outbox.due(self.batch_size, now=now)
            if not batch:
                continue
            started_at = self.clock()
            try:
                self.send_batch(batch, report)
            except TransientError as exc:
                report.failures += 1
                report.retried += len(batch)
                report.errors.append(str(exc))
                if isinstance(exc, ServerBusy):
                    self.link.told_to_wait(exc.retry_after)
                else:  # LinkDown (ItemFailure never gets here): the events are charged nothing
                    self.link.failed(started_at=started_at)
        return report

    def probe(self, report: DrainReport) -> bool:
        """Ask the cheap unauthenticated endpoint whether the server is reachable; record it in the link."""
        report.probes += 1
        try:
            reachable = self.http.get(PROBE_PATH, timeout=PROBE_TIMEOUT).status_code not in GATEWAY_DOWN
        except httpx.TransportError:
            reachable = False
        self.link.probed(reachable=reachable)
        return reachable

    def _defer(self, events: list[QueuedEvent], exc: TransientError, report: DrainReport) -> None:
        """These events (and only these) failed on their own: try them again on their own schedule."""
        delay = self.backoff.delay(max(e.attempts for e in events) + 1)
        self.outbox.defer([e.id for e in events], until=self.clock() + delay, error=str(exc))
        with self._count_lock:
            report.failures += 1
            report.retried += len(events)
            report.errors.append(str(exc))

    def send_batch(self, batch: list[QueuedEvent], report: DrainReport) -> None:
        """Upload the batch's media, POST its events and store every event's outcome."""
        missing = list(dict.fromkeys(e.asset for e in batch if e.asset is not None and e.asset not in self._on_server))
        if len(missing) > 1 and self.upload_workers > 1:
            # Uploads overlap: on a slow link (or a busy server) each one is mostly waiting.
            with ThreadPoolExecutor(min(self.upload_workers, len(missing)), thread_name_prefix="upload") as pool:
                problems = dict(zip(missing, pool.map(lambda sha: self._upload_or_failure(sha, report), missing),
                                    strict=True))
        else:
            problems = {sha: self._upload_or_failure(sha, report) for sha in missing}
        for sha, problem in problems.items():
            if isinstance(problem, ItemFailure):  # this media only: its events wait, the others go on
                self._defer([e for e in batch if e.asset == sha], problem, report)
            elif problem is not None:
                report.rejected += len(self.outbox.reject_asset(sha, problem))
        ready = [e for e in batch if e.asset is None or problems.get(e.asset) is None]
        if ready:
            try:
                self._post(ready, report)
            except ItemFailure as exc:  # about these events: they wait on their own schedule, the link is fine
                self._defer(ready, exc, report)

    def _upload_or_failure(self, sha256: str, report: DrainReport) -> str | ItemFailure | None:
        try:
            return self.upload_media(sha256, report)
        except ItemFailure as exc:
            return exc

    # --- media ----------------------------------------------------------------------------------------

    def upload_media(self, sha256: str, report: DrainReport) -> str | None:
        """Make the server have this media. None when it does; a reason when it never can (the events
        needing it are then rejected). Raises TransientError or AuthError."""
        path = self.spool.path(sha256)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return json.dumps({"code": "asset_lost", "message": f"media {sha256} is no longer in the spool"})
        try:
            if size >= self.head_min_bytes:
                head = self.http.head(f"/api/v1/media/{sha256}")
                if head.status_code in (401, 403):  # a HEAD answer has no body: ask why with a harmless GET
                    raise_for_common(self.http.get("/api/v1/models/current"), "model check")
                raise_for_common(head, "HEAD media")
                if head.status_code == 200:
                    self._on_server.add(sha256)
                    return None
            try:
                data = self.spool.read(sha256)
            except HashMismatch as exc:
                self.spool.quarantine(sha256)
                return json.dumps({"code": "hash_mismatch", "message": str(exc)})
            response = self.http.put(f"/api/v1/media/{sha256}", content=data,
                                     headers={"Content-Type": sniff_content_type(data[:16])})
        except httpx.TransportError as exc:
            raise LinkDown(f"media upload: {type(exc).__name__}: {exc}") from exc
        raise_for_common(response, "PUT media")
        if response.status_code in (200, 201):
            self._on_server.add(sha256)
            if response.status_code == 201:
                with self._count_lock:
                    report.media_uploaded += 1
            return None
        code, message = error_of(response)
        if response.status_code == 409:  # what we sent does not hash to its name: our copy is corrupt
            self.spool.quarantine(sha256)
        return json.dumps({"code": code, "message": message, "status": response.status_code})

    # --- events ---------------------------------------------------------------------------------------

    def _post(self, events: list[QueuedEvent], report: DrainReport) -> None:
        body = b'{"events":[' + ",".join(e.payload for e in events).encode() + b"]}"
        try:
            response = self.http.post("/api/v1/events", content=body,
                                      headers={"Content-Type": "application/json"})
        except httpx.TransportError as exc:
            raise LinkDown(f"events: {type(exc).__name__}: {exc}") from exc
        raise_for_common(response, "POST events")
        status = response.status_code
        if status in (400, 413) and len(events) > 1:
            # The batch as a whole is refused (too large for this server, or one event is not even JSON the
            # server can split): halve it until the culprit stands alone.
            if status == 413:
                self.batch_size = max(1, len(events) // 2)
            half = len(events) // 2
            self._post(events[:half], report)
            self._post(events[half:], report)
            return
        if status != 200:
            code, message = error_of(response)
            if status == 408:  # the request did not arrive in time: the link's fault, not the events'
                raise LinkDown(f"POST events: HTTP {status} {code}")
            if 400 <= status < 500 and status != 404:  # the server refuses these events for good
                error = json.dumps({"code": code, "message": message, "status": status})
                self.outbox.mark_rejected({e.id: error for e in events})
                report.rejected += len(events)
                return
            raise ItemFailure(f"POST events: HTTP {status} {code}")
        self._record(events, response, report)

    def _record(self, events: list[QueuedEvent], response: httpx.Response, report: DrainReport) -> None:
        try:
            results: list[dict[str, Any]] = response.json()["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ItemFailure("POST events: the answer is not a result list") from exc
        if [r.get("id") for r in results] != [e.id for e in events]:
            raise ItemFailure("POST events: the results do not match the events sent")
        sent: list[str] = []
        rejected: dict[str, str] = {}
        retry: dict[str, str] = {}
        for event, result in zip(events, results, strict=True):
            if result.get("status") in DELIVERED:
                sent.append(event.id)
                continue
            error = result.get("error") or {}
            text = json.dumps(error)
            if error.get("code") == ASSET_MISSING and event.asset and event.attempts + 1 < MAX_ASSET_MISSING:
                self._on_server.discard(event.asset)  # the server lost it (or never had it): upload again
                retry[event.id] = text
            else:
                rejected[event.id] = text
        self.outbox.record_outcome(sent=sent, rejected=rejected, retry=retry, retry_at=self.clock())
        report.batches += 1
        report.sent += len(sent)
        report.rejected += len(rejected)
