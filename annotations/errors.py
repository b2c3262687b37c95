"""Domain errors and their one mapping to API.md's error shape `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import math
from typing import Any

from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler


class LoupeError(Exception):
    """A refusal a client can act on: carries the HTTP status and a stable snake_case code."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}


class InvalidInput(LoupeError):
    status, code = 400, "invalid"


class Unauthenticated(LoupeError):
    status, code = 401, "not_authenticated"


class Forbidden(LoupeError):
    status, code = 403, "forbidden"


class NotFound(LoupeError):
    status, code = 404, "not_found"


class Conflict(LoupeError):
    status, code = 409, "conflict"


class LastAdmin(Conflict):
    """Demoting or removing a project's only admin would leave nobody to administer it."""

    code = "last_admin"


class TooLarge(LoupeError):
    status, code = 413, "too_large"


class UnsupportedMedia(LoupeError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(LoupeError):
    status, code = 422, "unprocessable"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_DRF_CODES = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "forbidden",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
    drf_exceptions.ParseError: "malformed_json",
    drf_exceptions.ValidationError: "invalid",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: every error leaves the API in the same shape."""
    if isinstance(exc, LoupeError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    response = drf_default_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, drf_exceptions.APIException)
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, drf_exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = "The request is not valid."
    else:
        details = {}
        message = str(exc.detail)
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait is not None:
        wait = math.ceil(exc.wait)
        # Said as a person reads it (the login page shows the message); the figure is also in details.
        message = f"Too many requests. Try again in {wait} second{'s' if wait != 1 else ''}."
        details = {"retry_after": wait}  # the same as the Retry-After header DRF sets, in seconds
    response.data = error_body(code, message, details)  # type: ignore[arg-type]
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        response.status_code = 401
    return response


def json_404(request: Any, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_500(request: Any) -> JsonResponse:
    return JsonResponse(error_body("server_error", "The server failed; the request was not applied."), status=500)
