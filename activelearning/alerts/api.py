"""Alerts API (docs/alerts.md): a project's alerts and the bell's counts (admins, reviewers, and managers and
operators for their sites), acknowledging and silencing (admins), the rules (admins change them). Thin: the
services decide."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.alerts import rules
from activelearning.alerts.actions import (
    MAX_SILENCE_MINUTES,
    NOTE_LIMIT,
    acknowledge,
    effective_params,
    rules_of,
    silence,
    update_rules,
)
from activelearning.alerts.models import Alert, AlertRule
from activelearning.alerts.selectors import access_alert, alert_summary, visible_alerts
from annotations.api.errors import error_responses
from annotations.api.fields import refuse_unknown_fields
from annotations.errors import Forbidden
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404)
# Bodies in a form encoding the parsers cannot read (a malformed multipart part) answer 415.
ACTION_ERRORS = error_responses(400, 401, 403, 404, 409, 415)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 415)
VIEW_ROLES = [Role.ADMIN, Role.REVIEWER, Role.MANAGER, Role.OPERATOR]
ACT_ROLES = [Role.ADMIN]
STATUSES = ("open", "resolved", "all")


class AlertSerializer(serializers.ModelSerializer):
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    silenced_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    silenced = serializers.SerializerMethodField(help_text="Silenced now (silenced_until is in the future).")
    kind_label = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "kind", "kind_label", "severity", "subject_type", "subject_id", "subject_label", "site",
                  "opened_at", "resolved_at", "details", "last_value", "acknowledged_by", "acknowledged_at",
                  "acknowledge_note", "silenced_until", "silenced_by", "silence_reason", "silenced"]
        read_only_fields = fields

    def get_silenced(self, alert: Alert) -> bool:
        return alert.silenced_until is not None and alert.silenced_until > timezone.now()

    def get_kind_label(self, alert: Alert) -> str:
        kind = rules.KINDS.get(alert.kind)
        return kind.label if kind else alert.kind


class AlertPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = AlertSerializer(many=True)


class AlertQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES, default="open")
    kind = serializers.ChoiceField(choices=rules.KIND_CHOICES, required=False)
    page = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=200, default=50)


class SeverityCountsSerializer(serializers.Serializer):
    critical = serializers.IntegerField()
    warning = serializers.IntegerField()


class AlertSummarySerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Open alerts not silenced: the bell's number.")
    unacknowledged = serializers.IntegerField()
    silenced = serializers.IntegerField(help_text="Open alerts silenced now (not in `open`).")
    by_severity = SeverityCountsSerializer()


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_LIMIT, allow_blank=True, required=False, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self, ["note"], "field of an acknowledgement")
        return attrs


class SilenceSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(min_value=1, max_value=MAX_SILENCE_MINUTES)
    reason = serializers.CharField(max_length=NOTE_LIMIT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self, ["minutes", "reason"], "field of a silence")
        return attrs


class AlertParamSerializer(serializers.Serializer):
    name = serializers.CharField()
    default = serializers.FloatField()
    min = serializers.FloatField()
    max = serializers.FloatField()
    integer = serializers.BooleanField()
    help = serializers.CharField()


class AlertRuleSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()
    severity = serializers.SerializerMethodField()
    subject_type = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField(help_text="The thresholds in force (the kind's defaults included).")
    param_specs = serializers.SerializerMethodField()
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AlertRule
        fields = ["kind", "label", "severity", "subject_type", "enabled", "params", "param_specs", "updated_by",
                  "updated_at"]

    def get_label(self, rule: AlertRule) -> str:
        return rules.KINDS[rule.kind].label

    def get_severity(self, rule: AlertRule) -> str:
        return rules.KINDS[rule.kind].severity

    def get_subject_type(self, rule: AlertRule) -> str:
        return rules.KINDS[rule.kind].subject

    @extend_schema_field(serializers.DictField(child=serializers.FloatField()))
    def get_params(self, rule: AlertRule) -> dict[str, float]:
        return effective_params(rule)

    @extend_schema_field(AlertParamSerializer(many=True))
    def get_param_specs(self, rule: AlertRule) -> list[dict[str, Any]]:
        return [{"name": name, "default": p.default, "min": p.low, "max": p.high, "integer": p.integer,
                 "help": p.help} for name, p in rules.KINDS[rule.kind].params.items()]


class AlertRuleChangeSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="One of the alert kinds.")
    enabled = serializers.BooleanField(required=False)
    params = serializers.DictField(child=serializers.JSONField(), required=False)


class AlertRulesWriteSerializer(serializers.Serializer):
    rules = AlertRuleChangeSerializer(many=True, allow_empty=False, max_length=len(rules.KINDS))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self, ["rules"], "field of the alert rules")
        return attrs


class ProjectAlertsView(APIView):
    """`GET /api/v1/projects/{id}/alerts?status=open|resolved|all&kind=&page=&page_size=`: newest first."""

    @extend_schema(operation_id="project_alerts", parameters=[
        OpenApiParameter("status", str, enum=list(STATUSES), description="default open"),
        OpenApiParameter("kind", str, enum=list(rules.KINDS), description="an alert kind (AlertKindEnum)"),
        OpenApiParameter("page", int, description="1-based"),
        OpenApiParameter("page_size", int, description="1–200, default 50")],
        responses={200: AlertPageSerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, membership = access_project(user=request.user, project_id=project_id, roles=VIEW_ROLES)
        query = AlertQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        alerts = visible_alerts(project, membership).select_related("acknowledged_by", "silenced_by")
        if q["status"] != "all":
            alerts = alerts.filter(resolved_at__isnull=q["status"] == "open")
        if "kind" in q:
            alerts = alerts.filter(kind=q["kind"])
        start = (q["page"] - 1) * q["page_size"]
        page = list(alerts.order_by("-opened_at", "-id")[start:start + q["page_size"]])
        return Response(AlertPageSerializer({"count": alerts.count(), "page": q["page"], "page_size": q["page_size"],
                                             "results": page}).data)


class AlertSummaryView(APIView):
    """`GET /api/v1/projects/{id}/alerts/summary`: the bell's counts (silenced alerts apart)."""

    @extend_schema(operation_id="project_alert_summary", responses={200: AlertSummarySerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, membership = access_project(user=request.user, project_id=project_id, roles=VIEW_ROLES)
        return Response(AlertSummarySerializer(alert_summary(visible_alerts(project, membership))).data)


def _alert_to_act_on(request: Request, project_id: int, alert_id: int) -> Alert:
    """An alert the caller may see (404 otherwise: another site's alert is not found, not forbidden), then
    the admin check (403)."""
    project, membership = access_project(user=request.user, project_id=project_id, roles=VIEW_ROLES)
    alert = access_alert(project=project, membership=membership, alert_id=alert_id)
    if membership.role not in ACT_ROLES:
        raise Forbidden("Your role in this project does not allow this.", details={"role": membership.role})
    return alert


class AlertAcknowledgeView(APIView):
    """`POST /api/v1/projects/{id}/alerts/{alert_id}/acknowledge` `{"note"}` (admins)."""

    @extend_schema(operation_id="alert_acknowledge", request=AcknowledgeSerializer,
                   responses={200: AlertSerializer, **ACTION_ERRORS})
    def post(self, request: Request, project_id: int, alert_id: int) -> Response:
        alert = _alert_to_act_on(request, project_id, alert_id)
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = acknowledge(alert=alert, user=request.user, note=body.validated_data["note"])
        return Response(AlertSerializer(alert).data)


class AlertSilenceView(APIView):
    """`POST /api/v1/projects/{id}/alerts/{alert_id}/silence` `{"minutes", "reason"}` (admins): out of the bell
    and the webhooks for 1 to 10080 minutes."""

    @extend_schema(operation_id="alert_silence", request=SilenceSerializer,
                   responses={200: AlertSerializer, **ACTION_ERRORS})
    def post(self, request: Request, project_id: int, alert_id: int) -> Response:
        alert = _alert_to_act_on(request, project_id, alert_id)
        body = SilenceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = silence(alert=alert, user=request.user, minutes=body.validated_data["minutes"],
                        reason=body.validated_data["reason"])
        return Response(AlertSerializer(alert).data)


class AlertRulesView(APIView):
    """`GET/PUT /api/v1/projects/{id}/alert-rules`: every kind's rule, thresholds and `enabled` (admins and
    reviewers read; admins change). PUT takes `{"rules": [{"kind", "enabled"?, "params"?}]}`; the kinds not
    named are left as they are."""

    @extend_schema(operation_id="project_alert_rules", responses={200: AlertRuleSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN, Role.REVIEWER])
        return Response(AlertRuleSerializer(rules_of(project), many=True).data)

    @extend_schema(operation_id="project_alert_rules_update", request=AlertRulesWriteSerializer,
                   responses={200: AlertRuleSerializer(many=True), **WRITE_ERRORS})
    def put(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = AlertRulesWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = update_rules(project=project, user=request.user,
                             changes=[dict(c) for c in body.validated_data["rules"]])
        return Response(AlertRuleSerializer(saved, many=True).data)
