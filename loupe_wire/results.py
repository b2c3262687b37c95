"""What the server answers for each event of a batch (API.md, `POST /api/v1/events`), in the words both sides use.

One result per event, in order: `{"id", "status", "error"?: {"code", "message", ...}, "review_item"?}`.
"""

from __future__ import annotations

from typing import Final, Literal

CREATED: Final = "created"  # stored now (and queued for review if routing chose it)
DUPLICATE: Final = "duplicate"  # this id was stored before with the same payload: nothing changed
REJECTED: Final = "rejected"  # refused for good, except ASSET_MISSING which the device can cure
ResultStatus = Literal["created", "duplicate", "rejected"]  # for the server's per-event result type
# The server has the event: the device may mark it sent and forget it.
DELIVERED: Final = frozenset({CREATED, DUPLICATE})

# Error codes of a rejected event. Only ASSET_MISSING asks the device to do something (upload the media, then
# send the event again); every other code is final for that payload.
ASSET_MISSING: Final = "asset_missing"
ID_CONFLICT: Final = "id_conflict"  # the id was used with another payload (see loupe_wire.payload_hash)
INVALID_EVENT: Final = "invalid_event"
INVALID_NUMBER: Final = "invalid_number"  # NaN, Infinity or out of range
