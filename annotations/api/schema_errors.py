"""OpenAPI post-processing: every operation documents the refusals any request of its kind can get.

The error shape is one (`Error`, API.md) and the reasons are uniform: a body or a parameter can be malformed
(400), a caller unauthenticated (401) or not allowed, CSRF included (403), a path id unknown or not yours (404),
a body too large (413). Views list the refusals particular to them; this adds the common ones they leave out,
so a client (and schemathesis) can rely on the documented statuses being all there are.
"""

from __future__ import annotations

from typing import Any

_METHODS = ("get", "put", "post", "patch", "delete", "head")
_DESCRIPTIONS = {"400": "Malformed input", "401": "Not authenticated", "403": "Not allowed",
                 "404": "Not found", "413": "Body too large"}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in result.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            statuses = ["400", "401", "403"]
            if "{" in path:
                statuses.append("404")
            if "requestBody" in operation:
                statuses.append("413")
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses.setdefault(status, {"content": error, "description": _DESCRIPTIONS[status]})
    return result
