"""Request bodies of the claim loop (claim, heartbeat, release, submit): msgspec Structs, decoded and
type-checked in one pass in C.

These run after every claim, hundreds of times a second. A DRF serializer rebuilds its field tree for each
request (a deep copy of every declared field), which cost more CPU than the SQL of a whole submit. The
OpenAPI document takes its request schemas from these same Structs (`json_schema_components`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

from annotations.errors import InvalidInput, UnsupportedMedia
from annotations.geometry import clip_to_image
from annotations.int64 import INT64_MAX, INT64_MIN
from annotations.models import Asset
from reviewer.models import Reason, ReviewItem

# PostgreSQL text and jsonb cannot hold NUL (a 500 from the driver); DRF's CharField refuses it, and so do these.
NO_NUL = Meta(pattern="^[^\x00]*$")
LeaseToken = Annotated[str, Meta(min_length=1, max_length=64), NO_NUL]
ReasonName = Literal[tuple(Reason.values)]  # type: ignore[valid-type]  # the model's choices, one source


class ClaimBody(msgspec.Struct):
    reason: ReasonName | None = None  # type: ignore[valid-type]
    site: Annotated[int, Meta(ge=1, le=INT64_MAX)] | None = None
    prefetch: Annotated[bool, Meta(description="Claim the next item ahead of time: a short lease, at most one "
                                               "per person (a second prefetch returns the same item).")] = False


class LeaseBody(msgspec.Struct):
    lease_token: LeaseToken


class HeartbeatBody(msgspec.Struct):
    lease_token: LeaseToken
    prefetch: Annotated[bool, Meta(description="true: keep a waiting (prefetched) item's short lease; false: "
                                               "this item is on screen (full lease; a prefetched item becomes "
                                               "the current one).")] = False


class SkipBody(msgspec.Struct):
    lease_token: LeaseToken
    reason: Annotated[str, Meta(max_length=200, description="Why the person skipped it (shown in the audit)."),
                      NO_NUL] = ""


class Box(msgspec.Struct, omit_defaults=True):
    label: Annotated[str, Meta(min_length=1, max_length=64), NO_NUL]
    box: Annotated[list[float], Meta(min_length=4, max_length=4, description="[x, y, w, h] in image pixels")]
    frame_index: Annotated[int, Meta(ge=0, le=INT64_MAX)] | None = None
    track_id: Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)] | None = None
    prelabel_index: Annotated[int, Meta(ge=0, le=INT64_MAX, description="The pre-label box (index into the claim's "
                                                          "prelabel.boxes) this box started from; omitted for "
                                                          "boxes the person drew.")] | None = None


class SubmitBody(msgspec.Struct):
    lease_token: LeaseToken
    boxes: Annotated[list[Box], Meta(max_length=2000, description="Omit with verdict 'confirm' to store the "
                                                                  "model's boxes at or above the project's "
                                                                  "pre-label threshold.")] | None = None
    count: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    verdict: Literal["confirm", "correct", "unusable"] = "correct"
    note: Annotated[str, Meta(max_length=4000), NO_NUL] = ""
    started_at: Annotated[datetime, Meta(tz=True)] | None = None
    wrong_tracks: Annotated[list[Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]], Meta(max_length=1000,
                                            description="Operators: the field model's track ids that were wrong.")] = []


B = TypeVar("B", bound=msgspec.Struct)
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode(body_type: type[B], raw: bytes, content_type: str = "application/json") -> B:
    """The body as `body_type`, or 400 `invalid` naming the field (`details`: path → problem); 415 for a body
    sent as another type than JSON (an empty body, all defaults, may come with any)."""
    media_type = content_type.split(";")[0].strip().lower()
    if raw and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMedia("The body must be JSON (Content-Type: application/json).",
                               details={"content_type": media_type})
    decoder = _decoders.get(body_type)
    if decoder is None:
        decoder = _decoders[body_type] = msgspec.json.Decoder(body_type)
    try:
        return decoder.decode(raw or b"{}")
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `")
        field = path.rstrip("`").removeprefix("$").lstrip(".") or "non_field_errors"
        raise InvalidInput("The request is not valid.", code="invalid", details={field: message}) from exc
    except msgspec.DecodeError as exc:
        raise InvalidInput("The body is not valid JSON.", code="malformed_json", details={"reason": str(exc)}) from exc
    except RecursionError as exc:  # msgspec decodes nesting by recursion too: 100k `{"a":` was a 500
        raise InvalidInput("The body is not valid JSON.", code="malformed_json",
                           details={"reason": "nested too deeply"}) from exc


def box_problem(box: list[float], frame_index: int | None, asset: Asset | None) -> str | None:
    """Why a box `[x, y, w, h]` cannot be on this asset's frame, or None if it can."""
    if not all(math.isfinite(v) for v in box):
        return "box values must be finite numbers"
    if box[2] <= 0 or box[3] <= 0:
        return "zero or negative size"
    if asset is not None and clip_to_image(box, asset.width, asset.height) is None:  # the one rule for all paths
        return "entirely outside the frame"
    if asset is not None and (frame_index or 0) >= (asset.frame_count or 1):
        return "frame_index beyond the clip"
    return None


def check_boxes(boxes: list[Box], item: ReviewItem) -> list[dict[str, Any]]:
    """Boxes must lie (at least partly) in the frame, have a finite size, a project label and a real frame,
    and name each pre-label they started from at most once; returned as plain dicts (`prelabel_index` kept
    for the diff, not stored)."""
    labels = set(item.project.label_classes or ())
    n_prelabels = len(item.prediction.detections) if item.prediction is not None else 0
    errors: dict[str, str] = {}
    seen: set[int] = set()
    for i, entry in enumerate(boxes):
        if labels and entry.label not in labels:
            errors[str(i)] = f"unknown label {entry.label!r}"
        elif problem := box_problem(entry.box, entry.frame_index, item.asset):
            errors[str(i)] = problem
        elif entry.prelabel_index is not None and entry.prelabel_index >= n_prelabels:
            errors[str(i)] = f"prelabel_index {entry.prelabel_index} names no pre-label (there are {n_prelabels})"
        elif entry.prelabel_index is not None and entry.prelabel_index in seen:
            errors[str(i)] = f"prelabel_index {entry.prelabel_index} is used by two boxes"
        if entry.prelabel_index is not None:
            seen.add(entry.prelabel_index)
    if errors:
        raise InvalidInput("The request is not valid.", code="invalid", details={"boxes": errors})
    return msgspec.to_builtins(boxes)  # type: ignore[no-any-return]


def json_schema_components() -> dict[str, Any]:
    """OpenAPI components for these bodies (added by the schema post-processing hook)."""
    _, components = msgspec.json.schema_components([ClaimBody, LeaseBody, HeartbeatBody, SkipBody, SubmitBody],
                                                   ref_template="#/components/schemas/{name}")
    return components  # type: ignore[no-any-return]


def schema_ref(body_type: type[msgspec.Struct]) -> dict[str, Any]:
    """`extend_schema(request=…)` for a body documented by `json_schema_components`."""
    return {"application/json": {"$ref": f"#/components/schemas/{body_type.__name__}"}}
