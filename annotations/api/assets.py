"""Authorised media for people: an asset, its frames and thumbnail are served only to members of a project
that holds it, with faces blurred where a project of the caller's asks for it (`annotations.served_media`)."""

from __future__ import annotations

import re

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseBase, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from annotations import served_media
from annotations.errors import InvalidInput
from annotations.selectors import access_asset_media
from annotations.served_media import MediaFile
from annotations.throttling import MediaReadThrottle

REVALIDATE = "private, no-cache"
NO_STORE = "private, no-store"
_FRAME_INDEX_RE = re.compile(r"^[0-9]{1,7}$")
_ERROR = OpenApiResponse(description='`{"error": {"code", "message", "details"}}`')


class FilesWithJsonErrors(BaseContentNegotiation):
    """These views answer with files, whatever `Accept` says (an `<img>` asks for image/*, a script may ask
    for image/jpeg only); DRF renders only their errors, always as JSON, so no request is refused with 406."""

    def select_parser(self, request: Request, parsers: list[object]) -> object:
        return parsers[0]

    def select_renderer(self, request: Request, renderers: list[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        return renderers[0], str(renderers[0].media_type)


def _original_param(request: Request) -> bool:
    """`?original=1` asks for the unblurred original; `0` or no parameter for what members see."""
    value = request.query_params.get("original", "0")
    if value not in {"0", "1"}:
        raise InvalidInput("`original` must be 1 or 0.", code="invalid_original", details={"original": value[:20]})
    return value == "1"


def file_response(request: Request, media: MediaFile) -> HttpResponseBase:
    """Serve a stored file. With an ETag it is revalidated on every use (a matching If-None-Match costs no file
    open): which variant is served depends on a project setting, so a browser must not keep one for a year.
    Without, it is an audited original: never stored, so every view is asked for and audited."""
    if media.etag is not None and media.etag in {
            tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response: HttpResponseBase = HttpResponseNotModified()
    else:
        response = FileResponse(default_storage.open(media.name, "rb"), content_type=media.content_type)
    if media.etag is None:
        response["Cache-Control"] = NO_STORE
    else:
        response["ETag"] = media.etag
        response["Cache-Control"] = REVALIDATE
    response["X-Content-Type-Options"] = "nosniff"
    return response


_ORIGINAL = OpenApiParameter(
    "original", str, OpenApiParameter.QUERY, enum=["0", "1"],
    description="1: the unblurred original of a project that blurs faces; admins only (403 "
                "`original_forbidden`), audited, sent with `Cache-Control: no-store`.")


class AssetView(APIView):
    """The uploaded file; a still whose faces are blurred for the caller is served as the blurred JPEG."""

    content_negotiation_class = FilesWithJsonErrors
    throttle_classes = [MediaReadThrottle]

    @extend_schema(operation_id="asset_read", parameters=[_ORIGINAL],
                   responses={**{(200, media_type): OpenApiTypes.BINARY  # the file as uploaded (or blurred)
                                 for media_type in ("image/jpeg", "image/png", "video/mp4")},
                              400: _ERROR, 403: _ERROR, 404: _ERROR, 429: _ERROR})
    def get(self, request: Request, sha256: str) -> HttpResponseBase:
        original = _original_param(request)
        access = access_asset_media(user=request.user, sha256=sha256, original=original)
        return file_response(request, served_media.still(user=request.user, access=access, original=original))


class FrameView(APIView):
    """Frame `n` (from 0) of a clip as decoded by a sequential read; frame 0 of an image is the image."""

    content_negotiation_class = FilesWithJsonErrors
    throttle_classes = [MediaReadThrottle]

    @extend_schema(
        operation_id="asset_frame",
        parameters=[OpenApiParameter("n", int, OpenApiParameter.PATH, description="Frame index, from 0."),
                    _ORIGINAL],
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 400: _ERROR, 403: _ERROR, 404: _ERROR, 429: _ERROR},
    )
    def get(self, request: Request, sha256: str, n: str) -> HttpResponseBase:
        if not _FRAME_INDEX_RE.fullmatch(n):
            raise InvalidInput("The frame index must be a non-negative integer.", code="invalid_frame_index",
                               details={"n": n[:20]})
        original = _original_param(request)
        access = access_asset_media(user=request.user, sha256=sha256, original=original)
        return file_response(request, served_media.frame(user=request.user, access=access, n=int(n), original=original))


class ThumbView(APIView):
    """A small JPEG of the image, or of a clip's first frame."""

    content_negotiation_class = FilesWithJsonErrors
    throttle_classes = [MediaReadThrottle]

    @extend_schema(operation_id="asset_thumb", parameters=[_ORIGINAL],
                   responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 400: _ERROR, 403: _ERROR, 404: _ERROR, 429: _ERROR})
    def get(self, request: Request, sha256: str) -> HttpResponseBase:
        original = _original_param(request)
        access = access_asset_media(user=request.user, sha256=sha256, original=original)
        return file_response(request, served_media.thumb(user=request.user, access=access, original=original))
