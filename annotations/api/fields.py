"""Field checks that several settings endpoints share."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import serializers


def refuse_unknown_fields(serializer: serializers.Serializer, allowed: Iterable[str], what: str) -> None:
    """A 400 naming each field of the body that is not one of `allowed`: a misspelt field would otherwise be
    dropped silently and the admin believe it saved."""
    initial = getattr(serializer, "initial_data", None)
    unknown = sorted(set(initial) - set(allowed)) if isinstance(initial, dict) else []
    if unknown:
        raise serializers.ValidationError({name: [f"Not a {what}."] for name in unknown})
