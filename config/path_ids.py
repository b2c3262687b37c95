"""Ids in a URL path that no database row can have answer 404 before any view runs.

Django's `<int:…>` converter takes any number of digits; the hand-written statements (see annotations.rows)
pass the id to the driver, and SQLite refuses a Python int past 64 bits with `OverflowError` (a 500), where
PostgreSQL quietly finds nothing. An id outside the signed 64-bit range names nothing on either database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from annotations.errors import json_404
from annotations.int64 import INT64_MAX, INT64_MIN


class PathIdRangeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> HttpResponse | None:
        values = [*args, *kwargs.values()]
        if any(isinstance(v, int) and not INT64_MIN <= v <= INT64_MAX for v in values):
            return json_404(request)
        return None
