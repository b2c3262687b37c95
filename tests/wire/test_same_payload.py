"""One definition of "the same payload" (loupe_wire.payload_hash): what the server's batch decoder stores and what
the device's outbox compares agree, and neither depends on how a device serialised the event."""

from __future__ import annotations

import json

from loupe_wire import event_from, parse_batch, payload_hash, same_payload

EVENT = {"id": "door-1-000001", "type": "prediction", "captured_at": "2026-11-21T08:15:30Z", "camera": "door-1",
         "asset": "ab" * 32, "detections": [{"label": "person", "score": 1, "box": [120, 40, 60, 170]}],
         "reason": "low_confidence"}
# The same event as another device library would write it: keys reversed, +00:00 for Z, floats for ints, and
# the defaults the server fills in spelled out.
RESERIALISED = {**dict(reversed(list(EVENT.items()))), "captured_at": "2026-11-21T08:15:30+00:00",
                "detections": [{"box": [120.0, 40.0, 60.0, 170.0], "score": 1.0, "label": "person"}], "context": {}}


def _hash_as_the_server_stores_it(event: dict) -> str:
    (parsed,) = parse_batch(json.dumps({"events": [event]}).encode(), max_events=10)
    assert parsed.event is not None, parsed.error_message
    return parsed.payload_hash


def test_a_reserialised_event_has_the_same_hash_on_the_server_and_the_device():
    stored = _hash_as_the_server_stores_it(EVENT)
    assert _hash_as_the_server_stores_it(RESERIALISED) == stored
    device_side = event_from(RESERIALISED)
    assert device_side is not None and payload_hash(device_side) == stored
    assert same_payload(EVENT, RESERIALISED)


def test_any_change_of_content_is_another_payload():
    for changed in ({**EVENT, "reason": "ood"}, {**EVENT, "captured_at": "2026-11-21T08:15:31Z"},
                    {**EVENT, "context": {"lighting": "night"}}, {**EVENT, "context": {"n": True}}):
        assert _hash_as_the_server_stores_it(changed) != _hash_as_the_server_stores_it(EVENT)
        assert not same_payload(EVENT, changed)
    # JSON tells true from 1 where Python's == does not.
    assert not same_payload({**EVENT, "context": {"n": 1}}, {**EVENT, "context": {"n": True}})


def test_invalid_events_are_the_same_only_when_their_content_is():
    invalid = {"id": "x", "type": "unknown"}
    assert same_payload(invalid, dict(reversed(list(invalid.items()))))
    assert not same_payload(invalid, {**invalid, "camera": "door-1"})
    assert not same_payload(invalid, EVENT)
