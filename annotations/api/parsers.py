"""DRF's JSON parser, refusing JSON nested deeper than the standard library can decode with a 400.

Python's `json` decodes nesting by recursion: a body of 100k `[` raised RecursionError, a 500, on every
endpoint that reads `request.data`. No request of ours nests more than a few levels.

Its own module: DRF imports the default parser classes while `rest_framework.views` loads, so this must
not import anything that imports DRF views (annotations.errors does).
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
