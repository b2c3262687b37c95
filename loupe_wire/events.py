"""The device event (API.md, `POST /api/v1/events`) as typed structs, and what makes two events "the same".

msgspec decodes and type-checks in C; per-box DRF serializers cap ingest near 1,000 events/s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

EventId = Annotated[str, Meta(min_length=1, max_length=128)]
Name = Annotated[str, Meta(min_length=1, max_length=120)]


class ModelRef(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(max_length=120)] = ""
    version: Annotated[str, Meta(max_length=64)] = ""
    sha256: Annotated[str, Meta(max_length=64)] = ""


class Detection(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    label: Annotated[str, Meta(min_length=1, max_length=64)]
    score: float
    box: Annotated[list[float], Meta(min_length=4, max_length=4)]
    track_id: int | None = None


class Count(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    value: Annotated[int, Meta(ge=0, le=1_000_000)]


class Event(msgspec.Struct, forbid_unknown_fields=True):
    id: EventId
    type: Literal["prediction", "dispute", "count"]
    captured_at: Annotated[datetime, Meta(tz=True)]
    camera: Name
    asset: Annotated[str, Meta(pattern="^[0-9a-f]{64}$")] | None = None
    frame_index: Annotated[int, Meta(ge=0)] | None = None
    model: ModelRef | None = None
    detections: list[Detection] = []
    count: Count | None = None
    reason: Annotated[str, Meta(max_length=32)] | None = None
    context: dict[str, Any] = {}


_canonical_encoder = msgspec.json.Encoder(order="sorted")
_plain_encoder = msgspec.json.Encoder()


def canonical_payload(event: Event) -> bytes:
    """The event's canonical encoding: sorted keys, typed values, defaults filled in.

    Key order, whitespace, `1` for `1.0` or `+00:00` for `Z` do not change it, so a device that re-sends an
    event however it re-serialised it is recognised."""
    return _canonical_encoder.encode(event)


def payload_hash(event: Event) -> str:
    """The one definition of "the same payload": a re-send of an event id with an equal hash is a duplicate,
    with another hash a conflict. The server stores it with each event; the device compares with it too."""
    return hash_of_canonical(canonical_payload(event))


def hash_of_canonical(canonical: bytes) -> str:
    """`payload_hash` from an encoding `canonical_payload` already made (ingest needs both, encodes once)."""
    return hashlib.sha256(canonical).hexdigest()


def event_from(document: Mapping[str, Any]) -> Event | None:
    """The event a JSON-like mapping describes, or None if it is not a valid event."""
    try:
        return msgspec.convert(document, Event)
    except msgspec.MsgspecError:
        return None


def same_payload(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two events (as JSON-like mappings) carry the same payload in the sense of `payload_hash`.

    Two invalid events are the same only if their sorted encodings match (the server refuses them anyway, so
    no re-send of one is ever judged there); a valid and an invalid one never are."""
    a, b = event_from(first), event_from(second)
    if a is None or b is None:
        return a is None and b is None and _canonical_encoder.encode(first) == _canonical_encoder.encode(second)
    return payload_hash(a) == payload_hash(b)


def encode_detections(detections: list[Detection]) -> str:
    """The stored JSON of an event's detections: label, score, box and (when given) track id."""
    return _plain_encoder.encode(detections).decode()
