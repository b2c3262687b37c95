"""Accounts: session login/logout for the browser, per-user API tokens, password reset, invitations."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout, password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations import audit
from annotations.api.errors import ErrorSerializer
from annotations.errors import InvalidInput, Unauthenticated
from annotations.int64 import INT64_MAX
from annotations.models import Membership, Role
from annotations.selectors import access_project
from annotations.services import invite_member, project_sites, set_password_from_link
from annotations.throttling import (
    LoginAccountThrottle,
    LoginAddressThrottle,
    PasswordResetAccountThrottle,
    PasswordResetAddressThrottle,
    PasswordSetAccountThrottle,
    PasswordSetAddressThrottle,
)

RATE_LIMITED = OpenApiResponse(ErrorSerializer, description="`rate_limited`, with `Retry-After` in seconds.")


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


def me_payload(user: User) -> dict[str, Any]:
    memberships = Membership.objects.filter(user=user).select_related("project").prefetch_related("sites")
    return {
        "id": user.pk, "username": user.username, "email": user.email, "is_staff": user.is_staff,
        "memberships": [{"project": m.project_id, "project_slug": m.project.slug, "role": m.role,
                         "sites": [s.pk for s in m.sites.all()]} for m in memberships],
    }


class LoginView(APIView):
    permission_classes = [AllowAny]
    # Per address and per account: a botnet guessing one password gets no more tries than one client.
    throttle_classes = [LoginAddressThrottle, LoginAccountThrottle]

    @extend_schema(operation_id="auth_login", request=LoginSerializer, responses={200: OpenApiTypes.OBJECT, 429: RATE_LIMITED})
    def post(self, request: Request) -> Response:
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(request, **body.validated_data)
        if user is None:
            raise Unauthenticated("Wrong username or password.", code="invalid_credentials")
        login(request._request, user)
        return Response(me_payload(user))


class LogoutView(APIView):
    @extend_schema(operation_id="auth_logout", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=204)


@method_decorator(ensure_csrf_cookie, name="get")
class MeView(APIView):
    @extend_schema(operation_id="auth_me", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(me_payload(request.user))


class TokenView(APIView):
    """Issue (or rotate) the caller's API token for scripts: `Authorization: Token <key>`. Shown once."""

    @extend_schema(operation_id="auth_token_rotate", request=None, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        with transaction.atomic():
            Token.objects.filter(user=request.user).delete()
            token = Token.objects.create(user=request.user)
            audit.record(action="token.rotated", obj_type="user", obj_id=request.user.pk, project_id=None,
                         actor=request.user)
        return Response({"token": token.key}, status=201)


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField()


class PasswordResetView(APIView):
    """Send a reset link by email. Always 202, whether or not the address is known (no account probing)."""

    permission_classes = [AllowAny]
    throttle_classes = [PasswordResetAddressThrottle, PasswordResetAccountThrottle]

    @extend_schema(operation_id="auth_password_reset", request=PasswordResetSerializer, responses={202: None, 429: RATE_LIMITED})
    def post(self, request: Request) -> Response:
        body = PasswordResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        form = PasswordResetForm({"email": body.validated_data["email"]})
        if form.is_valid():
            form.save(request=request._request, use_https=request.is_secure(),
                      email_template_name="loupe/password_reset_email.txt")
        return Response(status=202)


class PasswordSetSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=256, trim_whitespace=False)


def _user_from_link(uid: str, token: str) -> User:
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist) as exc:
        raise InvalidInput("This link is not valid.", code="invalid_link") from exc
    if not default_token_generator.check_token(user, token):
        raise InvalidInput("This link is not valid or has expired.", code="invalid_link")
    return user


class PasswordSetView(APIView):
    """Set a new password from a reset or invitation link (uid + token)."""

    permission_classes = [AllowAny]
    throttle_classes = [PasswordSetAddressThrottle, PasswordSetAccountThrottle]

    @extend_schema(operation_id="auth_password_set", request=PasswordSetSerializer, responses={204: None, 429: RATE_LIMITED})
    def post(self, request: Request) -> Response:
        body = PasswordSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = _user_from_link(body.validated_data["uid"], body.validated_data["token"])
        try:
            password_validation.validate_password(body.validated_data["new_password"], user)
        except DjangoValidationError as exc:
            raise InvalidInput("The password is too weak.", code="weak_password",
                               details={"new_password": list(exc.messages)}) from exc
        set_password_from_link(user=user, password=body.validated_data["new_password"])
        return Response(status=204)


class InvitationSerializer(serializers.Serializer):
    email = serializers.EmailField()
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$")
    role = serializers.ChoiceField(choices=Role.choices)
    sites = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=INT64_MAX), required=False, default=list)


class InvitationView(APIView):
    """An admin invites someone into the project: a new username gets a pending account and a set-password
    email; an existing account (same email) is added and told so, its password and state untouched."""

    @extend_schema(operation_id="project_invite", request=InvitationSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = InvitationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        invited = invite_member(project=project, actor=request.user, username=data["username"], email=data["email"],
                                role=data["role"], sites=project_sites(project=project, site_ids=data["sites"]))
        user = invited.user
        if invited.pending:
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            link = reverse("set-password") + f"?uid={uid}&token={default_token_generator.make_token(user)}"
            user.email_user("You are invited to Loupe",
                            f"{request.user} invited you to {project.name} as {data['role']}.\n"
                            f"Your username: {user.username}\n"
                            f"Set your password: {request.build_absolute_uri(link)}")
        else:
            user.email_user("You were added to a project on Loupe",  # a subject holds no user text
                            f"{request.user} added you to {project.name} as {data['role']}.\n"
                            f"Sign in as usual: {request.build_absolute_uri('/')}")
        return Response({"user": user.pk, "membership": invited.membership.pk, "role": invited.membership.role,
                         "existing_account": not invited.pending}, status=201)
