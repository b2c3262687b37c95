"""The API's JSON parser: DRF's, refusing a NUL character anywhere in the document.

PostgreSQL can store NUL neither in text nor in jsonb (the driver raises, a 500), and DRF's CharField refuses
it only for the fields it declares: a free-form JSON field (a routing policy, a drift policy) took it through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.parsers import JSONParser

from annotations.nul import nul_path


class JsonParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        from annotations.errors import InvalidInput  # here: annotations.errors imports DRF, which loads this

        document = super().parse(stream, media_type, parser_context)
        where = nul_path(document)
        if where is not None:
            raise InvalidInput("Null characters are not allowed.", details={"path": where})
        return document
