"""Drift API (DESIGN.md, "Drift"): per camera the last computed metrics, the reference and current confidence
histograms and which metrics alert; the project's drift policy. Admins and QA reviewers watch drift (they
judge the model's quality); admins change the policy and may recompute at once."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.metrics import CONFIDENCE_BINS
from activelearning.monitoring.drift import POLICY_FIELDS, compute_drift, update_drift_policy
from activelearning.monitoring.models import DriftMetric, DriftPolicy
from activelearning.monitoring.selectors import DRIFT_STATUSES, drift_overview, drift_policy, drift_summary
from annotations.api.errors import error_responses
from annotations.api.fields import refuse_unknown_fields
from annotations.dbrouting import reporting_db
from annotations.models import Project, Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404)
WATCH_ROLES = [Role.ADMIN, Role.REVIEWER]


class DriftPolicySerializer(serializers.ModelSerializer):
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null: the defaults, never saved")

    class Meta:
        model = DriftPolicy
        fields = [*POLICY_FIELDS, "updated_by", "updated_at"]
        # Bounds a person can mean: PSI above 10 or a window longer than the stored data is a typo.
        extra_kwargs = {
            "psi_threshold": {"min_value": 0.01, "max_value": 10.0},
            "correction_rate_threshold": {"min_value": 0.01, "max_value": 1.0},
            "count_error_threshold": {"min_value": 0.01, "max_value": 10_000.0},
            "min_boxes": {"min_value": 1, "max_value": 1_000_000},
            "min_reviews": {"min_value": 1, "max_value": 100_000},
            "min_flags": {"min_value": 1, "max_value": 10_000},
            "current_window_hours": {"min_value": 1, "max_value": 7 * 24},
            "reference_window_days": {"min_value": 1, "max_value": 90},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self, POLICY_FIELDS, "drift policy field")
        return attrs


class DriftAlertSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=DriftMetric.choices)
    since = serializers.DateTimeField()


class CameraDriftSerializer(serializers.Serializer):
    camera = serializers.IntegerField()
    camera_name = serializers.CharField()
    site = serializers.IntegerField()
    site_name = serializers.CharField()
    computed_at = serializers.DateTimeField(allow_null=True, help_text="null: not computed yet")
    psi = serializers.FloatField(allow_null=True, help_text="null: too few box scores in a window")
    correction_rate = serializers.FloatField(allow_null=True, help_text="null: too few accepted reviews")
    count_error = serializers.FloatField(allow_null=True, help_text="null: too few count flags")
    boxes_reference = serializers.IntegerField()
    boxes_current = serializers.IntegerField()
    reviews = serializers.IntegerField()
    corrections = serializers.IntegerField()
    flags = serializers.IntegerField()
    histogram_reference = serializers.ListField(child=serializers.IntegerField())
    histogram_current = serializers.ListField(child=serializers.IntegerField())
    alerting = DriftAlertSerializer(many=True)
    last_alert_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=DRIFT_STATUSES, help_text=(
        "alerting: a metric is over its threshold; ok: every metric measured and none over; partial: none over, "
        "but some metrics have too few samples (unknown_metrics); not_enough_data: no metric could be measured; "
        "not_computed: never computed. Unknown is never reported as ok."))
    unknown_metrics = serializers.ListField(child=serializers.ChoiceField(choices=DriftMetric.choices),
                                            help_text="Metrics with too few samples in the window to be measured.")


class DriftSummarySerializer(serializers.Serializer):
    cameras = serializers.IntegerField()
    alerting = serializers.IntegerField()
    ok = serializers.IntegerField()
    partial = serializers.IntegerField()
    not_enough_data = serializers.IntegerField()
    not_computed = serializers.IntegerField()


class DriftOverviewSerializer(serializers.Serializer):
    bins = serializers.IntegerField(help_text="Equal-width confidence bins over [0, 1].")
    policy = DriftPolicySerializer()
    cameras = CameraDriftSerializer(many=True)
    summary = DriftSummarySerializer(help_text="Cameras per status.")


def _overview(project: Project, *, using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    cameras = drift_overview(project, using=using)
    return DriftOverviewSerializer({"bins": CONFIDENCE_BINS, "policy": drift_policy(project), "cameras": cameras,
                                    "summary": drift_summary(cameras)}).data


class ProjectDriftView(APIView):
    """`GET /api/v1/projects/{id}/drift/`: every camera's last drift snapshot, the thresholds in force."""

    @extend_schema(operation_id="project_drift", responses={200: DriftOverviewSerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=WATCH_ROLES)
        return Response(_overview(project, using=reporting_db()))  # may be seconds behind: a dashboard


class DriftComputeView(APIView):
    """`POST /api/v1/projects/{id}/drift/compute`: recompute now rather than at the next sweep (admins)."""

    @extend_schema(operation_id="project_drift_compute", request=None,
                   responses={200: DriftOverviewSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        compute_drift(project=project)
        return Response(_overview(project))  # on the primary: it shows what was just computed


class DriftPolicyView(APIView):
    """`GET/PATCH /api/v1/projects/{id}/drift/policy`: the project's drift thresholds and windows (admins)."""

    @extend_schema(operation_id="project_drift_policy", responses={200: DriftPolicySerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(DriftPolicySerializer(drift_policy(project)).data)

    @extend_schema(operation_id="project_drift_policy_update", request=DriftPolicySerializer(partial=True),
                   responses={200: DriftPolicySerializer, **ERRORS})
    def patch(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = DriftPolicySerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        policy = update_drift_policy(project=project, user=request.user,  # type: ignore[arg-type]
                                     changes=dict(body.validated_data))
        return Response(DriftPolicySerializer(policy).data)
