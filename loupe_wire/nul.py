"""NUL characters: PostgreSQL stores them in neither text nor jsonb (the driver raises, a 500), so input that
holds one is refused where it enters (loupe_wire.batch for device events, annotations.api.parsers for the JSON
API). Framework-free so the device side and the server share the one check."""

from __future__ import annotations

from typing import Any


def nul_path(value: Any, path: str = "") -> str | None:
    """The JSON path of the first string (key or value) holding a NUL character, or None."""
    if isinstance(value, str):
        return path or "/" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = f"{path}/{key!r}" if "\x00" in key else nul_path(item, f"{path}/{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}/{index}")
            if found:
                return found
    return None
