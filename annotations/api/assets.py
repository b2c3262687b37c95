"""Authorised media for people: an asset, its frames and thumbnail are served only to members of a project
that holds it. Everything here is content-addressed, so it is cached by the browser as immutable."""

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

from annotations import frame_cache
from annotations.errors import InvalidInput, NotFound
from annotations.selectors import access_asset

IMMUTABLE = "private, max-age=31536000, immutable"
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


def _file_response(request: Request, name: str, etag: str, content_type: str) -> HttpResponseBase:
    """Serve a cached file with validators; a matching If-None-Match costs no file open."""
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response: HttpResponseBase = HttpResponseNotModified()
    else:
        response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE
    response["X-Content-Type-Options"] = "nosniff"
    return response


class AssetView(APIView):
    content_negotiation_class = FilesWithJsonErrors

    @extend_schema(operation_id="asset_read", responses={200: OpenApiTypes.BINARY, 404: _ERROR})
    def get(self, request: Request, sha256: str) -> HttpResponseBase:
        asset = access_asset(user=request.user, sha256=sha256)
        return _file_response(request, str(asset.file.name), f'"{asset.sha256}"', asset.content_type)


class FrameView(APIView):
    """Frame `n` (from 0) of a clip as decoded by a sequential read; frame 0 of an image is the image."""

    content_negotiation_class = FilesWithJsonErrors

    @extend_schema(
        operation_id="asset_frame",
        parameters=[OpenApiParameter("n", int, OpenApiParameter.PATH, description="Frame index, from 0.")],
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 400: _ERROR, 404: _ERROR},
    )
    def get(self, request: Request, sha256: str, n: str) -> HttpResponseBase:
        if not _FRAME_INDEX_RE.fullmatch(n):
            raise InvalidInput("The frame index must be a non-negative integer.", code="invalid_frame_index",
                               details={"n": n[:20]})
        index = int(n)
        asset = access_asset(user=request.user, sha256=sha256)
        out_of_range = NotFound("The asset has no such frame.", code="frame_out_of_range",
                                details={"n": index, "frame_count": frame_cache.frame_capacity(asset)})
        if index >= frame_cache.frame_capacity(asset):
            raise out_of_range
        name = frame_cache.frame_storage_name(asset.sha256, index)
        if not default_storage.exists(name) and index >= frame_cache.ensure_frames(asset):
            raise out_of_range  # the upload counted more frames than decode now: serve what is there
        return _file_response(request, name, f'"{asset.sha256}-f{index}"', "image/jpeg")


class ThumbView(APIView):
    """A small JPEG of the image, or of a clip's first frame."""

    content_negotiation_class = FilesWithJsonErrors

    @extend_schema(operation_id="asset_thumb",
                   responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: _ERROR})
    def get(self, request: Request, sha256: str) -> HttpResponseBase:
        asset = access_asset(user=request.user, sha256=sha256)
        name = frame_cache.thumb_storage_name(asset.sha256)
        if not default_storage.exists(name):
            frame_cache.ensure_frames(asset)
        return _file_response(request, name, f'"{asset.sha256}-thumb"', "image/jpeg")
