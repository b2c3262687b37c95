"""Projects for people: the list a user may see, one project with its statistics, and its audit log."""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.errors import InvalidInput
from annotations.int64 import INT64_MAX
from annotations.models import SCOPED_ROLES, AuditEvent, Membership, Role
from annotations.selectors import access_project
from reviewer.models import ItemStatus, Reason
from reviewer.selectors import (
    ITEM_LIST_LIMIT,
    ITEM_ORDERINGS,
    ItemFilter,
    list_review_items,
)
from reviewer.stats import project_stats


class ProjectSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    label_classes = serializers.ListField(child=serializers.CharField())
    pending = serializers.IntegerField(help_text="Items waiting for review.")


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor__username = serializers.CharField(allow_null=True, help_text="null: the system or a device")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    before = serializers.JSONField(help_text="Any JSON, null included")
    after = serializers.JSONField(help_text="Any JSON, null included")
    request_id = serializers.CharField()


class ProjectListView(APIView):
    @extend_schema(operation_id="projects_list", responses={200: ProjectSummarySerializer(many=True)})
    def get(self, request: Request) -> Response:
        memberships = (
            Membership.objects.filter(user_id=request.user.pk).select_related("project").order_by("project__name")
            .annotate(pending=Count("project__review_items",
                                    filter=Q(project__review_items__status=ItemStatus.PENDING)))
        )
        # A store manager or bus operator sees their sites' work, not the project's queue figures.
        return Response([{"id": m.project_id, "slug": m.project.slug, "name": m.project.name, "role": m.role,
                          "label_classes": m.project.label_classes,
                          "pending": None if m.role in SCOPED_ROLES else m.pending} for m in memberships])


class ProjectDetailView(APIView):
    @extend_schema(operation_id="projects_read", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        project, membership = access_project(user=request.user, project_id=project_id)
        return Response({"id": project.pk, "slug": project.slug, "name": project.name,
                         "description": project.description, "label_classes": project.label_classes,
                         "role": membership.role, "qa_sample_rate": project.qa_sample_rate,
                         "consensus_overlap": project.consensus_overlap,
                         # Project-wide figures name every site and annotator: not for site-scoped roles.
                         "stats": None if membership.role in SCOPED_ROLES else project_stats(project)})


AUDIT_ORDERINGS = {"created_at", "-created_at", "action", "-action"}


class AuditQuerySerializer(serializers.Serializer):
    action = serializers.CharField(required=False, max_length=64)
    object_type = serializers.CharField(required=False, max_length=64)
    object_id = serializers.CharField(required=False, max_length=64)
    actor = serializers.CharField(required=False, max_length=150)
    ordering = serializers.CharField(required=False, default="-created_at")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


def refuse_unknown_params(request: Request, allowed: serializers.Serializer) -> None:
    """A filter we do not know is refused, never ignored: a typo must not silently widen a list."""
    unknown = set(request.query_params) - set(allowed.fields)
    if unknown:
        raise InvalidInput("Unknown filters.", code="invalid_filter", details={"unknown": sorted(unknown)})


class AuditLogView(APIView):
    """The project's audit trail for admins, filtered; ordering is an allow-list, never a field path."""

    @extend_schema(operation_id="project_audit", parameters=[AuditQuerySerializer],
                   responses={200: AuditEntrySerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        refuse_unknown_params(request, AuditQuerySerializer())
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        if q["ordering"] not in AUDIT_ORDERINGS:
            raise InvalidInput("This ordering is not allowed.", code="invalid_ordering",
                               details={"allowed": sorted(AUDIT_ORDERINGS)})
        events = AuditEvent.objects.filter(project=project)
        for field in ("action", "object_type", "object_id"):
            if field in q:
                events = events.filter(**{field: q[field]})
        if "actor" in q:
            events = events.filter(actor__username=q["actor"])
        rows = events.order_by(q["ordering"], "-id").values(
            "id", "created_at", "actor__username", "action", "object_type", "object_id", "before", "after",
            "request_id")[: q["limit"]]
        return Response(list(rows))


class ItemQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ItemStatus.choices, default=ItemStatus.SUBMITTED)
    reason = serializers.ChoiceField(choices=Reason.choices, required=False)
    site = serializers.IntegerField(required=False, min_value=1, max_value=INT64_MAX)
    ordering = serializers.ChoiceField(choices=ITEM_ORDERINGS, default="-updated_at",
                                       error_messages={"invalid_choice": "This ordering is not allowed."})
    limit = serializers.IntegerField(required=False, min_value=1, max_value=ITEM_LIST_LIMIT, default=50)


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ItemAssetRefSerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    kind = serializers.CharField()
    thumb_url = serializers.CharField()


class LatestVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    author = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField()
    verdict = serializers.CharField()


class ItemRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()
    priority = serializers.FloatField()
    status = serializers.CharField()
    site = NamedRefSerializer(allow_null=True)
    camera = NamedRefSerializer(allow_null=True)
    agreement = serializers.FloatField(allow_null=True)
    annotations_count = serializers.IntegerField()
    required_overlap = serializers.IntegerField()
    last_comment = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    asset = ItemAssetRefSerializer(allow_null=True)
    latest = LatestVersionSerializer(allow_null=True, help_text="The newest annotation version, if any.")


class ProjectItemsView(APIView):
    """`GET /api/v1/projects/{id}/items/`: QA's list (default: items awaiting review, newest first) for
    reviewers and admins. Filters and orderings are allow-lists; anything else is a 400, never applied."""

    @extend_schema(operation_id="project_items", parameters=[ItemQuerySerializer],
                   responses={200: ItemRowSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN, Role.REVIEWER])
        refuse_unknown_params(request, ItemQuerySerializer())
        query = ItemQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = list_review_items(project_id=project.pk, filters=ItemFilter(**query.validated_data))
        return Response(ItemRowSerializer(rows, many=True).data)
