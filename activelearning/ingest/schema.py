"""OpenAPI post-processing: add the msgspec-derived schemas (device events, the claim loop's bodies), so the
Structs stay the one source."""

from __future__ import annotations

from typing import Any

from loupe_wire import event_json_schema
from reviewer.api.bodies import json_schema_components


def add_event_components(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, component in (event_json_schema()["components"] | json_schema_components()).items():
        if component.get("required") == []:
            del component["required"]  # OpenAPI 3.0 wants a non-empty list or none
        for prop in component.get("properties", {}).values():
            if "default" in prop and prop["default"] in (None, "", []):
                # An empty default documents nothing, and generated clients (openapi-typescript) read any
                # default as "always present", which would make optional request fields required.
                del prop["default"]
        schemas[name] = component
    return result
