"""The signed callback of an external training pipeline (`POST /api/v1/training-runs/{id}/callback`).

The endpoint has no account: the project's trainer secret is its only key, and the body may be a 200 MB model.
So nothing of the body is read until the headers prove the sender holds the secret for this very run:

    X-Loupe-Timestamp:      unix seconds when it was signed (accepted within 5 minutes of our clock)
    X-Loupe-Content-SHA256: hex SHA-256 of the exact request body
    Content-Length:         the body's length
    X-Loupe-Signature:      "sha256=" + hex HMAC-SHA256(secret, "{run}.{timestamp}.{content_length}.{content_sha256}")

The body (multipart: `payload`, `model`) is then read once, hashed as it streams, the model part going to one
temporary file, and used only if its hash is the signed one. An unknown run, a run without a secret, a
missing or forged signature and a body that is not the signed one all get the same answer (403
`callback_forbidden`, through the same steps), so the endpoint tells nobody which run ids exist. The run's
one-time nonce in the payload still refuses a replay inside the time window. The sender's side, which a
pipeline may copy, is `activelearning.training.trainers.callback`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from activelearning.training.models import TrainerConfig, TrainingRun
from activelearning.training.trainers.callback import callback_signature, signed_headers
from annotations.errors import Forbidden, InvalidInput

CALLBACK_MAX_SKEW_SECONDS = 300
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Signs for runs that have no secret (or do not exist), so those take the same steps as a forged signature.
_NO_SECRET = secrets.token_hex(32)


def max_callback_bytes() -> int:
    return int(settings.LOUPE_MAX_MODEL_BYTES) + int(settings.LOUPE_MULTIPART_SLACK)  # as the ASGI body limit allows


def callback_headers(secret: str, *, run_id: int, body: bytes, content_type: str,
                     timestamp: int | None = None) -> dict[str, str]:
    """The headers a pipeline sends with `body` (the sender's side: `activelearning.training.trainers.callback`)."""
    return signed_headers(secret, run_id=run_id, content_length=len(body), content_type=content_type,
                          content_sha256=hashlib.sha256(body).hexdigest(), timestamp=timestamp)


def _forbidden() -> Forbidden:
    return Forbidden("The callback is not signed for this run.", code="callback_forbidden")


@dataclass(frozen=True)
class SignedCallback:
    """A callback whose headers carry a valid signature for `run`: what its body must be."""

    run: TrainingRun
    content_length: int
    content_sha256: str


def verify_headers(*, run_id: int, headers: Mapping[str, str], content_length: int | None,
                   now: float | None = None) -> SignedCallback:
    """Check a callback's signed headers before any byte of its body is read; the run they are valid for.

    Raises 413 for a body over the cap (whatever the run), else 403 `callback_forbidden` alike for an unknown
    run, a run without a secret and a missing or wrong signature, and 403 `stale_callback` for a valid one
    signed outside the time window (a replay)."""
    if content_length is not None and content_length > max_callback_bytes():
        raise InvalidInput(f"The request body exceeds the limit of {max_callback_bytes()} bytes.",
                           code="body_too_large", status=413, details={"max_bytes": max_callback_bytes()})
    # One path for every run id: the lookup, then an HMAC compared in constant time, then the verdict.
    lookup = run_id if 0 < run_id < 2**63 else 0  # (an id past 64 bits is no run, on SQLite as on PostgreSQL)
    run = TrainingRun.objects.select_related("project", "dataset_version").filter(pk=lookup).first()
    secret = (TrainerConfig.objects.filter(project_id=run.project_id if run is not None else 0)
              .values_list("webhook_secret", flat=True).first())
    timestamp_header = headers.get("X-Loupe-Timestamp", "")
    digest = headers.get("X-Loupe-Content-SHA256", "").lower()
    well_formed = (timestamp_header.isascii() and timestamp_header.isdigit() and len(timestamp_header) <= 12
                   and bool(_SHA256_HEX.fullmatch(digest)) and content_length is not None)
    timestamp = int(timestamp_header) if well_formed else 0
    expected = callback_signature(secret or _NO_SECRET, run_id=run_id, timestamp=timestamp,
                                  content_length=content_length or 0, content_sha256=digest)
    signed = hmac.compare_digest(expected.encode(), headers.get("X-Loupe-Signature", "").encode())
    if not (signed and well_formed and run is not None and secret):
        raise _forbidden()
    if abs((time.time() if now is None else now) - timestamp) > CALLBACK_MAX_SKEW_SECONDS:
        raise Forbidden("The callback is too old (or from the future).", code="stale_callback",
                        details={"max_skew_seconds": CALLBACK_MAX_SKEW_SECONDS})
    assert content_length is not None  # (well_formed)
    return SignedCallback(run=run, content_length=content_length, content_sha256=digest)


class _HashingReader:
    """Reads at most `length` bytes of `source`, hashing them as they pass."""

    def __init__(self, source: BinaryIO, length: int) -> None:
        self.source, self.left, self.digest = source, length, hashlib.sha256()

    def read(self, size: int | None = -1) -> bytes:
        if self.left <= 0:
            return b""
        chunk = self.source.read(self.left if size is None or size < 0 else min(size, self.left))
        self.left -= len(chunk)
        self.digest.update(chunk)
        return chunk

    def drain(self) -> None:
        while self.read(64 * 1024):
            pass


class _OneModelFile(TemporaryFileUploadHandler):
    """The `model` part, and only it, straight to one temporary file (never held in memory)."""

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != "model" or getattr(self, "file", None) is not None:
            raise SkipFile()
        super().new_file(field_name, *args, **kwargs)


@dataclass(frozen=True)
class CallbackBody:
    payload: bytes
    model_file: Path | None


@contextmanager
def read_signed_body(signed: SignedCallback, *, meta: Mapping[str, Any], stream: BinaryIO) -> Iterator[CallbackBody]:
    """Stream the body once (hashing it, the model to one temporary file, removed when the block ends) and
    yield it only if it is exactly the signed body."""
    reader = _HashingReader(stream, signed.content_length)
    handler = _OneModelFile()
    try:
        try:
            fields, files = MultiPartParser(dict(meta), reader, [handler], "utf-8").parse()  # type: ignore[arg-type]
        except (MultiPartParserError, SuspiciousOperation) as exc:  # malformed, too many fields, too big
            reader.drain()
            if reader.left or not hmac.compare_digest(reader.digest.hexdigest(), signed.content_sha256):
                raise _forbidden() from exc
            raise InvalidInput("The callback body is not a valid multipart form.", code="invalid_callback") from exc
        reader.drain()  # the epilogue after the last part is signed too
        if reader.left or not hmac.compare_digest(reader.digest.hexdigest(), signed.content_sha256):
            raise _forbidden()  # shorter than declared, or not the body that was signed
        payload = fields.get("payload")
        if not isinstance(payload, str):
            raise InvalidInput("The `payload` field is required.", code="invalid_callback")
        model = files.get("model")
        yield CallbackBody(payload=payload.encode(),
                           model_file=Path(model.temporary_file_path()) if model is not None else None)
    finally:
        upload = getattr(handler, "file", None)
        if upload is not None:
            upload.close()  # a NamedTemporaryFile: closing removes it

