"""The error envelope every endpoint answers with (API.md, "Errors"), for the OpenAPI schema of all apps."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error envelope under each status a view documents (the schema hook adds the common ones it omits)."""
    return {status: OpenApiResponse(ErrorSerializer) for status in statuses}
