"""Capture: store an event's media in the spool and queue the event, as one step pruning cannot split."""

from __future__ import annotations

from typing import Any

from edge.outbox import Outbox
from edge.spool import Spool, SpoolFull

MEDIA_REFUSED = "media_refused"  # the outbox counter of frames refused because the spool was full


def capture(*, outbox: Outbox, spool: Spool, event: dict[str, Any], media: bytes | None = None) -> bool:
    """Spool `media` (if any) under its sha256, set the event's `asset` to it and queue the event durably.

    Returns False if the event id was already queued with this payload (a replay changes nothing). Raises
    SpoolFull, after counting the refusal, when the media cannot fit (see SpoolFull for why)."""
    with spool.lock:  # pruning happens inside put; holding the lock until the enqueue protects this media
        if media is not None:
            try:
                sha256 = spool.put(media)
            except SpoolFull:
                outbox.bump(MEDIA_REFUSED)
                raise
            event = {**event, "asset": sha256}
        return outbox.enqueue(event)
