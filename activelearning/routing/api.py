"""Routing policy for people: members read it, admins preview a proposed document on recent events and save it as
a new version."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.routing.models import RoutingPolicy
from activelearning.routing.policy import POLICY_SCHEMA
from activelearning.routing.selectors import current_policy
from activelearning.routing.services import preview_policy, save_policy
from annotations.api.errors import error_responses
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429)


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


class PolicyProposalSerializer(serializers.Serializer):
    document = serializers.JSONField(help_text="The proposed policy, validated exactly as saving validates it.")
    limit = serializers.IntegerField(min_value=1, max_value=5000, default=1000,
                                     help_text="How many of the newest device predictions and disputes to replay.")


class PolicyOutcomeSerializer(serializers.Serializer):
    events = serializers.IntegerField(help_text="Events replayed.")
    queued = serializers.IntegerField(help_text="Events the policy queues, before caps.")
    queued_by_reason = serializers.DictField(child=serializers.IntegerField())
    queued_by_site = serializers.DictField(child=serializers.IntegerField())
    priority_histogram = serializers.ListField(
        child=serializers.IntegerField(), help_text="All replayed events' priorities in 10 equal bins over [0, 1].")
    exempt_from_caps_share = serializers.FloatField(help_text="Share of the queued events exempt from caps.")
    subject_to_caps = serializers.IntegerField(
        help_text="Queued events that are not exempt: caps (live counters, not simulated) may hold some back.")


class ChangedEventSerializer(serializers.Serializer):
    prediction = serializers.IntegerField()
    camera = serializers.CharField()
    site = serializers.CharField()
    queued_before = serializers.BooleanField()
    queued_after = serializers.BooleanField()
    reason_before = serializers.CharField(allow_blank=True)
    reason_after = serializers.CharField(allow_blank=True)
    priority_before = serializers.FloatField()
    priority_after = serializers.FloatField()


class PolicyCapsSerializer(serializers.Serializer):
    current = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    proposed = serializers.DictField(child=serializers.IntegerField(allow_null=True))


class PolicyPreviewSerializer(serializers.Serializer):
    limit = serializers.IntegerField()
    current_version = serializers.IntegerField(allow_null=True, help_text="null while the built-in default is in force")
    caps_simulated = serializers.BooleanField(help_text="Always false: caps depend on live counters.")
    caps = PolicyCapsSerializer()
    current = PolicyOutcomeSerializer()
    proposed = PolicyOutcomeSerializer()
    changed = serializers.IntegerField(help_text="Events queued by one policy and not the other.")
    newly_queued = serializers.IntegerField()
    no_longer_queued = serializers.IntegerField()
    examples = ChangedEventSerializer(many=True, help_text="Up to 20 changed events, newest first.")


class RoutingPolicyPreviewView(APIView):
    """`POST /api/v1/projects/{id}/routing-policy/preview`: what a proposed policy would queue among the project's
    recent device events, against the policy in force (admins). Stores nothing. Caps are not simulated (they
    depend on live counters): queued events that are not exempt are reported as subject to caps."""

    @extend_schema(operation_id="routing_policy_preview", request=PolicyProposalSerializer,
                   responses={200: PolicyPreviewSerializer, **ERRORS,
                              422: OpenApiResponse(description="invalid policy")})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        payload = PolicyProposalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        preview = preview_policy(project=project, document=payload.validated_data["document"],
                                 limit=payload.validated_data["limit"])
        return Response(PolicyPreviewSerializer(preview).data)
