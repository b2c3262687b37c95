"""The API's JSON parser: DRF's, refusing what would otherwise reach a view and answer 500.

- JSON nested deeper than the standard library can decode: Python's `json` decodes nesting by recursion, and
  a body of 100k `[` raised RecursionError on every endpoint that reads `request.data`. No request of ours
  nests more than a few levels.
- A NUL character anywhere in the document: PostgreSQL can store NUL neither in text nor in jsonb (the driver
  raises), and DRF's CharField refuses it only for the fields it declares: a free-form JSON field (a routing
  policy, a drift policy) took it through.

Its own module: DRF imports the default parser classes while `rest_framework.views` loads, so this must not
import anything that imports DRF views at module level (annotations.errors does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from loupe_wire.nul import nul_path


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        from annotations.errors import InvalidInput  # here: annotations.errors imports DRF, which loads this

        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
        where = nul_path(document)
        if where is not None:
            raise InvalidInput("Null characters are not allowed.", details={"path": where})
        return document
