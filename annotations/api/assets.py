"""Authorised media for people: an asset is served only to members of a project that holds it."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from annotations.errors import NotFound
from annotations.models import Asset, Membership, Prediction


class AssetView(APIView):
    @extend_schema(operation_id="asset_read", responses={200: OpenApiTypes.BINARY})
    def get(self, request: Request, sha256: str) -> FileResponse:
        asset = Asset.objects.filter(sha256=sha256).first()
        projects = Membership.objects.filter(user_id=request.user.pk).values("project_id")
        if asset is None or not Prediction.objects.filter(asset=asset, project_id__in=projects).exists():
            raise NotFound("Not found.")  # the same answer whether the hash is unknown or not yours
        response = FileResponse(asset.file.open("rb"), content_type=asset.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, max-age=86400, immutable"  # content-addressed: never changes
        return response
