"""The OpenAPI schema and the Swagger page, public or for signed-in users only (LOUPE_PUBLIC_API_DOCS).

A production server keeps them to its users by default: the schema is a map of every endpoint and field for
an outsider. The setting is read per request, so a test (or an operator's override) takes effect at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


def _docs_permissions() -> list[BasePermission]:
    return [AllowAny()] if settings.LOUPE_PUBLIC_API_DOCS else [IsAuthenticated()]


class SchemaView(SpectacularAPIView):
    """`GET /api/v1/schema/`: the OpenAPI document (YAML, or JSON by Accept)."""

    def get_permissions(self) -> list[BasePermission]:
        return _docs_permissions()

    def handle_exception(self, exc: Exception) -> Response:
        # Refusals are API errors in the usual JSON shape, not an OpenAPI document rendered as YAML.
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SwaggerView(SpectacularSwaggerView):
    """`GET /api/docs/`: the Swagger page; a signed-out visitor is sent to the app's sign-in page."""

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()]  # decided in get(): a browser page answers with a redirect, not a JSON refusal

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if not settings.LOUPE_PUBLIC_API_DOCS and not (request.user and request.user.is_authenticated):
            return HttpResponseRedirect(reverse("app") + "#/login")
        return super().get(request, *args, **kwargs)
