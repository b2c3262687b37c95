"""The people of a project (admins only): who is in it, with which role and sites; change or remove them.

Invitations (adding people) are `POST /projects/{id}/invitations` in accounts.py.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.int64 import INT64_MAX
from annotations.models import Membership, Role, Site
from annotations.selectors import access_member, access_project, project_members
from annotations.services import change_membership, remove_membership


class MemberSiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name"]


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username")
    email = serializers.EmailField(source="user.email")
    sites = MemberSiteSerializer(many=True)
    active = serializers.SerializerMethodField(help_text="Has set a password (an invitation not yet taken is not).")
    added_at = serializers.DateTimeField(source="created_at", help_text="When invited or added to the project.")
    last_login = serializers.DateTimeField(source="user.last_login", allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "email", "role", "sites", "active", "added_at", "last_login"]

    def get_active(self, membership: Membership) -> bool:
        user: User = membership.user
        return user.is_active and user.has_usable_password()


class MemberChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    sites = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=INT64_MAX), required=False, max_length=1000,
                                  help_text="Site ids of this project; kept only for managers and operators.")


_ERROR = OpenApiResponse(description='`{"error": {"code", "message", "details"}}`')


class ProjectMembersView(APIView):
    """`GET /api/v1/projects/{id}/members/`: admins only (403 for other roles, 404 for outsiders)."""

    @extend_schema(operation_id="project_members", responses={200: MemberSerializer(many=True), 403: _ERROR,
                                                              404: _ERROR})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(MemberSerializer(project_members(project=project), many=True).data)


class ProjectSitesView(APIView):
    """`GET /api/v1/projects/{id}/sites/`: the project's sites, for the members page's site pickers (admins)."""

    @extend_schema(operation_id="project_sites", responses={200: MemberSiteSerializer(many=True), 403: _ERROR,
                                                            404: _ERROR})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(MemberSiteSerializer(Site.objects.filter(project=project).order_by("name"), many=True).data)


class MemberView(APIView):
    """Change a member's role and sites, or remove them from the project; never the last admin (409)."""

    @extend_schema(operation_id="project_member_change", request=MemberChangeSerializer,
                   responses={200: MemberSerializer, 400: _ERROR, 403: _ERROR, 404: _ERROR, 409: _ERROR})
    def patch(self, request: Request, project_id: int, membership_id: int) -> Response:
        membership = access_member(user=request.user, project_id=project_id, membership_id=membership_id)
        body = MemberChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = change_membership(membership=membership, actor=request.user, role=body.validated_data.get("role"),
                                    site_ids=body.validated_data.get("sites"))
        return Response(MemberSerializer(project_members(project=changed.project).get(pk=changed.pk)).data)

    @extend_schema(operation_id="project_member_remove", responses={204: None, 403: _ERROR, 404: _ERROR,
                                                                    409: _ERROR})
    def delete(self, request: Request, project_id: int, membership_id: int) -> Response:
        membership = access_member(user=request.user, project_id=project_id, membership_id=membership_id)
        remove_membership(membership=membership, actor=request.user)
        return Response(status=204)
