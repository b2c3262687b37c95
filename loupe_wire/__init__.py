"""Loupe's device wire format: the event batch a device POSTs and the per-event results the server answers.

Both sides import it: the edge client (`edge/`, on devices) and the server's ingest. It depends on msgspec
only, never on Django or the server, so it ships to devices inside the `loupe-edge` distribution
(edge/pyproject.toml). `events` holds the structs and the one definition of "the same payload"
(`payload_hash`), `results` the result vocabulary, `batch` the server's batch decoder, `nul` the NUL check.
"""

from loupe_wire.batch import BatchMalformed, BatchTooLarge, ParsedEvent, event_json_schema, parse_batch
from loupe_wire.events import (
    Count,
    Detection,
    Event,
    ModelRef,
    canonical_payload,
    encode_detections,
    event_from,
    payload_hash,
    same_payload,
)
from loupe_wire.results import (
    ASSET_MISSING,
    CREATED,
    DELIVERED,
    DUPLICATE,
    ID_CONFLICT,
    INVALID_EVENT,
    INVALID_NUMBER,
    REJECTED,
    ResultStatus,
)

__all__ = [
    "ASSET_MISSING", "CREATED", "DELIVERED", "DUPLICATE", "ID_CONFLICT", "INVALID_EVENT", "INVALID_NUMBER",
    "REJECTED", "BatchMalformed", "BatchTooLarge", "Count", "Detection", "Event", "ModelRef",
    "ParsedEvent", "ResultStatus", "canonical_payload", "encode_detections", "event_from", "event_json_schema",
    "parse_batch", "payload_hash", "same_payload",
]
