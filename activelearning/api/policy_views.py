"""Routing policy for people: members read it, admins save a new version."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.api.views import ERRORS
from activelearning.models import RoutingPolicy
from activelearning.policy import POLICY_SCHEMA
from activelearning.selectors import current_policy
from activelearning.services import save_policy
from annotations.models import Role
from annotations.selectors import access_project


class PolicySerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True, help_text="null while the built-in default is in force")
    document = serializers.JSONField()
    schema = serializers.JSONField(read_only=True)
    history = serializers.ListField(child=serializers.DictField(), read_only=True)


class PolicyWriteSerializer(serializers.Serializer):
    document = serializers.JSONField()


class RoutingPolicyView(APIView):
    @extend_schema(operation_id="routing_policy_read", responses={200: PolicySerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id)
        version, document = current_policy(project)
        history = list(
            RoutingPolicy.objects.filter(project=project)
            .values("version", "created_at", "created_by__username")[:50]
        )
        return Response({"version": version, "document": document, "schema": POLICY_SCHEMA, "history": history})

    @extend_schema(operation_id="routing_policy_save", request=PolicyWriteSerializer,
                   responses={201: PolicySerializer, **ERRORS, 422: OpenApiResponse(description="invalid policy")})
    def put(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        payload = PolicyWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        policy = save_policy(project=project, document=payload.validated_data["document"], user=request.user)
        return Response({"version": policy.version, "document": policy.document, "schema": POLICY_SCHEMA,
                         "history": []}, status=201)
