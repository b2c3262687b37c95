"""A project's review settings for its admins: the QA sample rate, the pre-label threshold and the consensus
overlap (until now changeable only in Django admin)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import error_responses
from annotations.api.fields import refuse_unknown_fields
from annotations.models import Project, Role
from annotations.selectors import access_project
from annotations.services import REVIEW_SETTINGS, configure_review

ERRORS = error_responses(400, 401, 403, 404)


class _JsonNumber(serializers.FloatField):
    """A JSON number only: DRF would take "0.5" or `true` as a number, and a settings typo must not save."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class _JsonInteger(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ReviewSettingsSerializer(serializers.ModelSerializer):
    qa_sample_rate = _JsonNumber(
        min_value=0.0, max_value=1.0,
        help_text="Share of submitted items sent to QA review (0–1); low-agreement items always go.")
    prelabel_threshold = _JsonNumber(
        min_value=0.0, max_value=1.0,
        help_text="Pre-labels scoring at least this are the annotator's starting boxes (0–1); those below are "
                  "suggestions that count only when accepted.")
    consensus_overlap = _JsonInteger(
        min_value=1, max_value=10,
        help_text="Annotators each new item needs (1: no consensus); items already queued keep theirs.")

    class Meta:
        model = Project
        fields = list(REVIEW_SETTINGS)



class ReviewSettingsChangeSerializer(ReviewSettingsSerializer):
    """The PUT body: any of the settings, each optional (those not named keep their value)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self, REVIEW_SETTINGS, "review setting")
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Name at least one setting to change."]})
        return attrs


class ReviewSettingsView(APIView):
    """`GET/PUT /api/v1/projects/{id}/review-settings` (admins; 403 for other roles, 404 for outsiders). PUT
    changes only the fields it names; a refused change stores nothing."""

    @extend_schema(operation_id="project_review_settings", responses={200: ReviewSettingsSerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(ReviewSettingsSerializer(project).data)

    @extend_schema(operation_id="project_review_settings_update", request=ReviewSettingsChangeSerializer,
                   responses={200: ReviewSettingsSerializer, **ERRORS})
    def put(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = ReviewSettingsChangeSerializer(project, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        project = configure_review(project=project, user=request.user,  # type: ignore[arg-type]
                                   changes=dict(body.validated_data))
        return Response(ReviewSettingsSerializer(project).data)
