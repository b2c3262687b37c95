"""Rollouts API (docs/rollouts.md): promotion (immediate or staged), a project's rollouts, the admin's actions,
pins, and the device's `GET /models/current`. Thin: the services decide."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.registry.api import ModelVersionSerializer
from activelearning.registry.selectors import access_model
from activelearning.registry.serializers import DesiredModelSerializer
from activelearning.rollouts.decision import desired_model_for
from activelearning.rollouts.models import ModelPin, Rollout
from activelearning.rollouts.serializers import (
    PinSerializer,
    PinWriteSerializer,
    PromoteSerializer,
    RolloutActionSerializer,
    RolloutSerializer,
)
from activelearning.rollouts.services import (
    ACTIONS,
    act,
    pin,
    promote_by_hand,
    rollback_by_hand,
    start_rollout,
    unpin,
)
from annotations.api.devices import DeviceView
from annotations.api.errors import error_responses
from annotations.auth import touch_last_seen
from annotations.errors import NotFound
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(400, 401, 403, 404, 409)


class PromoteView(APIView):
    """`POST /api/v1/models/{id}/promote`: `{"to"}` promotes at once (200, the model); with `stages` (and
    `gates`) it starts a staged rollout (201, the rollout)."""

    @extend_schema(operation_id="model_promote", request=PromoteSerializer,
                   responses={200: ModelVersionSerializer, 201: RolloutSerializer, **ERRORS})
    def post(self, request: Request, model_id: int) -> Response:
        model = access_model(user=request.user, model_id=model_id, roles=[Role.ADMIN])
        body = PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "stages" in data:
            rollout = start_rollout(model=model, user=request.user, stages=data["stages"], gates=data["gates"])
            return Response(RolloutSerializer(rollout).data, status=201)
        return Response(ModelVersionSerializer(promote_by_hand(model=model, user=request.user, to=data["to"])).data)


class RollbackView(APIView):
    """`POST /api/v1/models/{id}/rollback`: the champion's predecessor is champion again, in one action, even
    during a rollout (which is aborted with it)."""

    @extend_schema(operation_id="model_rollback", request=None,
                   responses={200: ModelVersionSerializer, **ERRORS})
    def post(self, request: Request, model_id: int) -> Response:
        model = access_model(user=request.user, model_id=model_id, roles=[Role.ADMIN])
        return Response(ModelVersionSerializer(rollback_by_hand(model=model, user=request.user)).data)


def _access_rollout(request: Request, rollout_id: int, roles: list[str] | None = None) -> Rollout:
    rollout = Rollout.objects.filter(pk=rollout_id).first()
    if rollout is None:
        raise NotFound("Not found.")
    access_project(user=request.user, project_id=rollout.project_id, roles=roles)
    return rollout


class ProjectRolloutsView(APIView):
    @extend_schema(operation_id="project_rollouts", responses={200: RolloutSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id)
        rollouts = Rollout.objects.filter(project=project).select_related("created_by")[:50]
        return Response(RolloutSerializer(rollouts, many=True).data)


class RolloutView(APIView):
    @extend_schema(operation_id="rollout", responses={200: RolloutSerializer, **ERRORS})
    def get(self, request: Request, rollout_id: int) -> Response:
        return Response(RolloutSerializer(_access_rollout(request, rollout_id)).data)


class RolloutActionView(APIView):
    """`POST /api/v1/rollouts/{id}/{pause|resume|advance|abort}` (project admins; audited)."""

    @extend_schema(operation_id="rollout_action", request=RolloutActionSerializer,
                   parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(ACTIONS))],
                   responses={200: RolloutSerializer, **ERRORS})
    def post(self, request: Request, rollout_id: int, action: str) -> Response:
        if action not in ACTIONS:
            raise NotFound("Not found.")
        rollout = _access_rollout(request, rollout_id, roles=[Role.ADMIN])
        body = RolloutActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rollout = act(rollout_id=rollout.pk, action=action, user=request.user,
                      stage=body.validated_data.get("stage"))
        return Response(RolloutSerializer(rollout).data)


class ProjectPinsView(APIView):
    """`GET/POST /api/v1/projects/{id}/pins/`: devices and sites held on a model version (admins write)."""

    @extend_schema(operation_id="project_pins", responses={200: PinSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id)
        return Response(PinSerializer(ModelPin.objects.filter(project=project).order_by("pk"), many=True).data)

    @extend_schema(operation_id="project_pin_create", request=PinWriteSerializer,
                   responses={201: PinSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = PinWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        created = pin(project=project, user=request.user, model_id=data["model"], device_id=data.get("device"),
                      site_id=data.get("site"), note=data["note"])
        return Response(PinSerializer(created).data, status=201)


class PinView(APIView):
    @extend_schema(operation_id="project_pin_delete", responses={204: None, **ERRORS})
    def delete(self, request: Request, project_id: int, pin_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        unpin(pin_id=pin_id, project=project, user=request.user)
        return Response(status=204)


class CurrentModelView(DeviceView):
    """`GET /api/v1/models/current`: the model this device should run (pin > rollout stage > champion, never
    one needing a newer runtime than it reported); ETag is its sha256."""

    @extend_schema(operation_id="model_current", responses={200: DesiredModelSerializer, 304: None, **ERRORS})
    def get(self, request: Request) -> Response:
        touch_last_seen(self.device)
        current = desired_model_for(self.device)
        if current is None:
            raise NotFound("This project has no model this device can run yet.", code="no_champion")
        etag = f'"{current["sha256"]}"'
        if etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
            return Response(status=304, headers={"ETag": etag})
        return Response(current, headers={"ETag": etag, "Cache-Control": "no-cache"})
