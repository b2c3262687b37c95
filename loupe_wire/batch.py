"""The server's one-pass decoder of a device's event batch (`{"events": [...]}`).

Each event is decoded on its own so one bad event is rejected alone; a decoded event carries its payload hash.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from loupe_wire.events import Event, canonical_payload, hash_of_canonical
from loupe_wire.nul import nul_path
from loupe_wire.results import INVALID_EVENT, INVALID_NUMBER


class _Batch(msgspec.Struct):
    events: list[msgspec.Raw]


class BatchMalformed(ValueError):
    """The body is not JSON of the form `{"events": [...]}`."""


class BatchTooLarge(ValueError):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"The batch has {count} events; the limit is {limit}.")
        self.count, self.limit = count, limit


@dataclass
class ParsedEvent:
    """One slot of the batch: the decoded event, or why it could not be decoded."""

    index: int
    raw_id: str
    event: Event | None = None
    error_code: str = ""
    error_message: str = ""
    payload_hash: str = ""


_event_decoder = msgspec.json.Decoder(Event)
_batch_decoder = msgspec.json.Decoder(_Batch)


def _raw_id(obj: Any) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return obj["id"][:128]
    return ""


class _IdOnly(msgspec.Struct):
    id: Any = None


_id_decoder = msgspec.json.Decoder(_IdOnly)


def _raw_id_of(raw: msgspec.Raw) -> str:
    """The id of an event that failed to decode, reading nothing else (its other fields may be what failed)."""
    try:
        value = _id_decoder.decode(raw).id
    except msgspec.MsgspecError:
        return ""
    return value[:128] if isinstance(value, str) else ""


def _finite_numbers(event: Event) -> bool:
    for det in event.detections:
        if not math.isfinite(det.score) or not all(math.isfinite(v) for v in det.box):
            return False
    return True


def _checked(index: int, raw_id: str, event: Event, *, strict: bool) -> ParsedEvent:
    # Strict JSON cannot carry NaN/Infinity (msgspec refuses 1e999 as out of range); only the lenient
    # fallback parser can produce them.
    if not strict and not _finite_numbers(event):
        return ParsedEvent(index, raw_id, error_code=INVALID_NUMBER,
                           error_message="Scores and boxes must be finite numbers (no NaN or Infinity).")
    canonical = canonical_payload(event)
    # PostgreSQL stores NUL in neither text nor jsonb; the escape in the encoding is the cheap test first.
    if b"\\u0000" in canonical and (where := nul_path(msgspec.to_builtins(event))):
        return ParsedEvent(index, raw_id.replace("\x00", ""), error_code=INVALID_EVENT,
                           error_message=f"Null characters are not allowed (at {where}).")
    return ParsedEvent(index, event.id, event=event, payload_hash=hash_of_canonical(canonical))


def parse_batch(body: bytes, *, max_events: int) -> list[ParsedEvent]:
    """Decode a batch; raise BatchMalformed for a body that is not a batch, BatchTooLarge past the limit."""
    try:
        raws: list[Any] = _batch_decoder.decode(body).events
        strict = True
    except RecursionError as exc:  # nested past the decoder's depth (100k `[`)
        raise BatchMalformed("The body is not valid JSON: nested too deeply.") from exc
    except msgspec.DecodeError:
        # Strict JSON failed. Devices written in Python emit NaN/Infinity for bad floats: accept the
        # syntax here so such an event is rejected alone rather than the whole batch.
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:  # (RecursionError: nested past the decoder's depth)
            raise BatchMalformed(f"The body is not valid JSON: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("events"), list):
            raise BatchMalformed('The body must be {"events": [...]}.') from None
        raws = document["events"]
        strict = False
    if len(raws) > max_events:
        raise BatchTooLarge(len(raws), max_events)

    parsed: list[ParsedEvent] = []
    for index, raw in enumerate(raws):
        try:
            if strict:
                event = _event_decoder.decode(raw)
                raw_id = event.id
            else:
                raw_id = _raw_id(raw)
                event = msgspec.convert(raw, Event)
        except msgspec.MsgspecError as exc:
            raw_id = _raw_id_of(raw) if strict else _raw_id(raw)
            # 1e999 is valid JSON syntax but no finite number: the same refusal as NaN.
            code = INVALID_NUMBER if "out of range" in str(exc) else INVALID_EVENT
            parsed.append(ParsedEvent(index, raw_id, error_code=code, error_message=str(exc)))
            continue
        parsed.append(_checked(index, raw_id, event, strict=strict))
    return parsed


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of the batch body, for the OpenAPI document (one source of truth: the Structs)."""
    (schema,), components = msgspec.json.schema_components([_BatchDoc], ref_template="#/components/schemas/{name}")
    return {"schema": schema, "components": components}


class _BatchDoc(msgspec.Struct):
    events: Annotated[list[Event], Meta(description="Up to LOUPE_MAX_BATCH_EVENTS events (default 500).")]
