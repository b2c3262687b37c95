"""The rollouts API's bodies and answers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from activelearning.registry.models import ModelStatus
from activelearning.rollouts import plan
from activelearning.rollouts.models import ModelPin, Rollout
from annotations.int64 import INT64_MAX


class StageSerializer(serializers.Serializer):
    """For the schema only: the plan is checked by `plan.validate_plan`, so the errors sit beside each field."""

    devices = serializers.ListField(child=serializers.CharField(), required=False, help_text="Device names")
    sites = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="Site ids")
    percent = serializers.FloatField(required=False, min_value=0, max_value=100,
                                     help_text="Devices chosen by a stable hash of (rollout, device); increasing")
    soak_minutes = serializers.FloatField(required=False, min_value=0, help_text="Minimum time at this stage")


class GateSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=list(plan.METRICS))
    comparison = serializers.ChoiceField(choices=list(plan.COMPARISONS), default="ratio",
                                         help_text="ratio: canary ≤ champion × (1 + tolerance); "
                                                   "delta: canary ≤ champion + tolerance")
    tolerance = serializers.FloatField(min_value=0)


class PromoteSerializer(serializers.Serializer):
    """`POST /models/{id}/promote`: without `stages`, today's immediate promotion; with them (to champion), a
    staged rollout."""

    to = serializers.ChoiceField(choices=[ModelStatus.SHADOW, ModelStatus.CHAMPION])
    stages = serializers.JSONField(required=False, help_text="[{devices?, sites?, percent?, soak_minutes?}]")
    gates = serializers.JSONField(required=False, help_text="[{metric, comparison, tolerance}]")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "stages" not in attrs and "gates" not in attrs:
            return attrs
        if attrs["to"] != ModelStatus.CHAMPION:
            raise serializers.ValidationError({"to": ["A staged rollout promotes to champion."]})
        attrs.setdefault("gates", [])
        errors = plan.validate_plan(attrs.get("stages"), attrs["gates"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class RolloutSerializer(serializers.ModelSerializer):
    stages = serializers.JSONField()
    gates = serializers.JSONField()
    last_evaluation = serializers.JSONField()
    halt_reason = serializers.JSONField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Rollout
        fields = ["id", "project", "model", "previous", "status", "stage_index", "stage_started_at", "stages",
                  "gates", "last_evaluation", "halt_reason", "created_by", "created_at", "finished_at"]


class RolloutActionSerializer(serializers.Serializer):
    stage = serializers.IntegerField(required=False, min_value=0, max_value=plan.MAX_STAGES,
                                     help_text="The stage the caller saw: another one is 409 (a repeat does "
                                               "nothing twice)")


class PinSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelPin
        fields = ["id", "project", "device", "site", "model", "note", "created_at"]


class PinWriteSerializer(serializers.Serializer):
    model = serializers.IntegerField(min_value=1, max_value=INT64_MAX)
    device = serializers.IntegerField(required=False, min_value=1, max_value=INT64_MAX)
    site = serializers.IntegerField(required=False, min_value=1, max_value=INT64_MAX)
    note = serializers.CharField(required=False, max_length=200, allow_blank=True, default="")
