"""Retention API (docs/retention.md), admins only (403 for other roles, 404 for outsiders):
`GET/PUT /api/v1/projects/{id}/retention` (the policy, the legal holds, the last run's report),
`POST /api/v1/projects/{id}/retention/dry-run` and
`PUT/DELETE /api/v1/projects/{id}/sites/{site_id}/legal-hold`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.retention.models import RetentionPolicy, RetentionRun
from activelearning.retention.selectors import last_run, legal_holds, project_site
from activelearning.retention.services import (
    AUDIT_FLOOR_DAYS,
    POLICY_FIELDS,
    configure_retention,
    dry_run,
    place_legal_hold,
    policy_of,
    release_legal_hold,
)
from annotations.api.errors import error_responses
from annotations.api.fields import refuse_unknown_fields
from annotations.api.parsers import JSONParser
from annotations.models import Project, Role, Site
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404)
# A limit a person can mean: a century is "forever" said differently, and anything above is a typo.
MAX_DAYS = 36_500


class DaysField(serializers.IntegerField):
    """Whole days as a JSON integer, or null for "keep forever": DRF would take "30" or `true` as 30 and 1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, required=False, min_value=1, max_value=MAX_DAYS, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class RetentionPolicySerializer(serializers.ModelSerializer):
    unreviewed_media_days = DaysField(help_text="Media nobody reviewed: days after the last event that used them "
                                                "(null: keep forever).")
    reviewed_media_days = DaysField(help_text="Reviewed media: days after the last annotation version (null: "
                                              "keep forever).")
    prediction_days = DaysField(help_text="Predictions and counts not kept by a review: days after they arrived "
                                          "(null: keep forever).")
    audit_days = DaysField(help_text=f"Audit events: days after they happened, at least {AUDIT_FLOOR_DAYS} "
                                     "(null: keep forever).")

    class Meta:
        model = RetentionPolicy
        fields = list(POLICY_FIELDS)

    def validate_audit_days(self, value: int | None) -> int | None:
        if value is not None and value < AUDIT_FLOOR_DAYS:
            raise serializers.ValidationError(
                f"Audit events are kept at least {AUDIT_FLOOR_DAYS} days: disputes and security reviews look "
                "back over a year.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self, POLICY_FIELDS, "retention setting")
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Name at least one setting to change."]})
        return attrs


class LegalHoldSerializer(serializers.Serializer):
    site = serializers.IntegerField()
    site_name = serializers.CharField()
    reason = serializers.CharField()
    held_by = serializers.CharField()
    held_at = serializers.DateTimeField()


class RetentionRunSerializer(serializers.ModelSerializer):
    report = serializers.JSONField(help_text=(
        "holdings_removed: sha256 the project no longer holds; media_deleted: [{sha256, bytes}] deleted from "
        "storage (no project held them); predictions_deleted, audit_events_deleted, telemetry_deleted (device health samples past "
        "LOUPE_TELEMETRY_DAYS): counts; bytes_freed; "
        "cutoffs: the instants before which each kind was past keeping (null: kept forever)."))

    class Meta:
        model = RetentionRun
        fields = ["id", "dry_run", "started_at", "finished_at", "report"]


class RetentionSerializer(serializers.Serializer):
    policy = RetentionPolicySerializer()
    audit_floor_days = serializers.IntegerField()
    legal_holds = LegalHoldSerializer(many=True)
    last_run = RetentionRunSerializer(allow_null=True, help_text="The last real prune (null: none yet).")
    last_dry_run = RetentionRunSerializer(allow_null=True, help_text="The last dry run (null: none yet).")


def _retention(project: Project) -> dict[str, Any]:
    return RetentionSerializer({
        "policy": policy_of(project), "audit_floor_days": AUDIT_FLOOR_DAYS, "legal_holds": legal_holds(project),
        "last_run": last_run(project, dry_run=False), "last_dry_run": last_run(project, dry_run=True),
    }).data


class RetentionView(APIView):
    """`GET/PUT /api/v1/projects/{id}/retention`: PUT changes only the limits it names; a refused change stores
    nothing."""

    # JSON only: "keep forever" is null, which a form body cannot say.
    parser_classes = [JSONParser]

    @extend_schema(operation_id="project_retention", responses={200: RetentionSerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(_retention(project))

    @extend_schema(operation_id="project_retention_update", request=RetentionPolicySerializer(partial=True),
                   responses={200: RetentionSerializer, **ERRORS})
    def put(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = RetentionPolicySerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        configure_retention(project=project, user=request.user,  # type: ignore[arg-type]
                            changes=dict(body.validated_data))
        return Response(_retention(project))


class RetentionDryRunView(APIView):
    """`POST /api/v1/projects/{id}/retention/dry-run`: what a prune would delete now under the stored policy,
    recorded as the last dry run; nothing is deleted."""

    @extend_schema(operation_id="project_retention_dry_run", request=None,
                   responses={200: RetentionRunSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(RetentionRunSerializer(dry_run(project=project)).data)


class LegalHoldRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why (a case number, who asked).")


class LegalHoldView(APIView):
    """`PUT/DELETE /api/v1/projects/{id}/sites/{site_id}/legal-hold`: place (409 if already held) or release
    a site's legal hold; both audited."""

    parser_classes = [JSONParser]

    @staticmethod
    def _site(request: Request, project_id: int, site_id: int) -> Site:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return project_site(project, site_id)

    @extend_schema(operation_id="site_legal_hold_place", request=LegalHoldRequestSerializer,
                   responses={200: LegalHoldSerializer, **error_responses(400, 401, 403, 404, 409)})
    def put(self, request: Request, project_id: int, site_id: int) -> Response:
        site = self._site(request, project_id, site_id)
        body = LegalHoldRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        place_legal_hold(site=site, user=request.user, reason=body.validated_data["reason"])  # type: ignore[arg-type]
        hold = next(h for h in legal_holds(site.project) if h["site"] == site.pk)
        return Response(LegalHoldSerializer(hold).data)

    @extend_schema(operation_id="site_legal_hold_release", request=None, responses={204: None, **ERRORS})
    def delete(self, request: Request, project_id: int, site_id: int) -> Response:
        site = self._site(request, project_id, site_id)
        release_legal_hold(site=site, user=request.user)  # type: ignore[arg-type]
        return Response(status=204)
