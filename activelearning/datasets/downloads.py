"""Files served with HTTP Range support, so a device on a flaky link resumes a model download where it broke.

One byte range per request (`bytes=a-b`, `bytes=a-`, `bytes=-n`), which is what download clients send; a
multi-range or malformed header is ignored and the whole file is sent (RFC 9110 allows that), a range that
starts past the end is 416. `If-Range` with a different ETag also sends the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework.request import Request

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Control characters (CR/LF would end the header), path separators and the DEL character.
_UNSAFE_IN_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]")
CHUNK = 256 * 1024


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(first, last) inclusive, None for "send everything", or "unsatisfiable"."""
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # suffix: the last n bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, end


def _stream(handle: IO[bytes], first: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(first)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


def attachment_header(filename: str) -> str:
    """`Content-Disposition: attachment` for a name built from user-editable text (a model's name, a project's
    slug): control characters and path separators become `_`, and Django's RFC 6266 encoder quotes the rest
    (`filename*=utf-8''…` for non-ASCII), so no name can break the header or answer 500 for every device."""
    return str(content_disposition_header(True, _UNSAFE_IN_FILENAME.sub("_", filename) or "download"))


def ranged_file_response(request: Request, name: str, *, etag: str, content_type: str,
                         filename: str) -> HttpResponse | StreamingHttpResponse:
    if etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        return not_modified
    size = default_storage.size(name)
    wanted = parse_range(request.headers.get("Range", ""), size) if "Range" in request.headers else None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None
    if wanted == "unsatisfiable":
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    first, last = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = last - first + 1 if size else 0
    response = StreamingHttpResponse(_stream(default_storage.open(name, "rb"), first, length),
                                     status=206 if isinstance(wanted, tuple) else 200, content_type=content_type)
    if isinstance(wanted, tuple):
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Content-Disposition"] = attachment_header(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
