"""Reviewer API: claim queue, lease heartbeat/release, submit, QA review, item history. Thin views."""

from __future__ import annotations

import msgspec
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import ErrorSerializer, error_responses
from annotations.errors import InvalidInput
from annotations.models import Annotation, AuditEvent, Role
from annotations.selectors import access_project
from annotations.throttling import ClaimThrottle
from reviewer.access import access_review_item
from reviewer.api.bodies import (
    Box,
    ClaimBody,
    HeartbeatBody,
    LeaseBody,
    SkipBody,
    SubmitBody,
    box_problem,
    check_boxes,
    decode,
    schema_ref,
)
from reviewer.api.serializers import ReviewSerializer, item_payload
from reviewer.queue import CLAIM_ROLES, ClaimFilter, claim_next, extend_lease, release_lease, skip_item
from reviewer.services import Submission, decide_review, submit_annotation

ERRORS = error_responses(400, 401, 403, 404, 409)
ITEM = inline_serializer("ReviewItemLease", {"id": serializers.IntegerField(),
                                             "lease_token": serializers.CharField(),
                                             "lease_expires_at": serializers.DateTimeField()})
REVIEW_ROLES = (Role.ADMIN, Role.REVIEWER)


class ClaimView(APIView):
    throttle_classes = [ClaimThrottle]

    @extend_schema(operation_id="queue_claim", request=schema_ref(ClaimBody),
                   responses={200: ITEM, 204: OpenApiResponse(description="nothing left"), **ERRORS,
                              429: OpenApiResponse(ErrorSerializer, description="`rate_limited`, with `Retry-After`")})
    def post(self, request: Request, project_id: int) -> Response:
        _, membership = access_project(user=request.user, project_id=project_id, roles=CLAIM_ROLES)
        body = decode(ClaimBody, request.body, request.META.get("CONTENT_TYPE", ""))
        item = claim_next(user=request.user, membership=membership,
                          claim=ClaimFilter(reason=body.reason, site_id=body.site, prefetch=body.prefetch))
        if item is None:
            return Response(status=204)
        return Response(item_payload(item))


class HeartbeatView(APIView):
    @extend_schema(operation_id="item_heartbeat", request=schema_ref(HeartbeatBody), responses={200: ITEM, **ERRORS})
    def post(self, request: Request, item_id: int) -> Response:
        item, _ = access_review_item(user=request.user, item_id=item_id, roles=CLAIM_ROLES)
        body = decode(HeartbeatBody, request.body, request.META.get("CONTENT_TYPE", ""))
        item = extend_lease(item=item, user=request.user, lease_token=body.lease_token, prefetch=body.prefetch)
        return Response({"id": item.pk, "lease_expires_at": item.lease_expires_at})


class ReleaseView(APIView):
    @extend_schema(operation_id="item_release", request=schema_ref(LeaseBody), responses={204: None, **ERRORS})
    def post(self, request: Request, item_id: int) -> Response:
        item, _ = access_review_item(user=request.user, item_id=item_id, roles=CLAIM_ROLES)
        body = decode(LeaseBody, request.body, request.META.get("CONTENT_TYPE", ""))
        release_lease(item=item, user=request.user, lease_token=body.lease_token)
        return Response(status=204)


class SkipView(APIView):
    @extend_schema(operation_id="item_skip", request=schema_ref(SkipBody), responses={204: None, **ERRORS})
    def post(self, request: Request, item_id: int) -> Response:
        item, _ = access_review_item(user=request.user, item_id=item_id, roles=CLAIM_ROLES)
        body = decode(SkipBody, request.body, request.META.get("CONTENT_TYPE", ""))
        skip_item(item=item, user=request.user, lease_token=body.lease_token, reason=body.reason.strip())
        return Response(status=204)


class SubmitView(APIView):
    @extend_schema(operation_id="item_submit", request=schema_ref(SubmitBody),
                   responses={201: OpenApiResponse(description="new version"),
                              200: OpenApiResponse(description="retry of a stored submit"), **ERRORS})
    def post(self, request: Request, item_id: int) -> Response:
        item, _ = access_review_item(user=request.user, item_id=item_id, roles=CLAIM_ROLES)
        body = decode(SubmitBody, request.body, request.META.get("CONTENT_TYPE", ""))
        if body.boxes is None and body.verdict != "confirm":
            raise InvalidInput("The request is not valid.", code="invalid",
                               details={"boxes": "required unless the verdict is 'confirm' (the model was right)"})
        annotation, created, item_status = submit_annotation(
            item=item, user=request.user, lease_token=body.lease_token,
            submission=Submission(boxes=None if body.boxes is None else check_boxes(body.boxes, item),
                                  count=body.count, verdict=body.verdict,
                                  note=body.note, started_at=body.started_at, wrong_tracks=body.wrong_tracks),
        )
        return Response({"annotation": annotation.pk, "version": annotation.version, "item_status": item_status,
                         "diff": annotation.diff}, status=201 if created else 200)


class ReviewView(APIView):
    @extend_schema(operation_id="item_review", request=ReviewSerializer, responses={200: ITEM, **ERRORS})
    def post(self, request: Request, item_id: int) -> Response:
        item, _ = access_review_item(user=request.user, item_id=item_id, roles=REVIEW_ROLES)
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        region = data["region"]
        if region is not None and (problem := box_problem(region["box"], region["frame_index"], item.asset)):
            raise InvalidInput("The request is not valid.", code="invalid", details={"region": problem})
        # A fix is checked like a submit's boxes: in the frame, finite, a project label, a real clip frame.
        boxes = None if data["boxes"] is None else check_boxes(msgspec.convert(data["boxes"], list[Box]), item)
        item = decide_review(item=item, user=request.user, decision=data["decision"], comment=data["comment"],
                             region=None if data["decision"] == "accept" else region, boxes=boxes)
        return Response({"id": item.pk, "status": item.status})


class HistoryView(APIView):
    @extend_schema(operation_id="item_history", responses={200: OpenApiResponse(description="versions + audit"),
                                                            **ERRORS})
    def get(self, request: Request, item_id: int) -> Response:
        item, _ = access_review_item(user=request.user, item_id=item_id)
        versions = list(
            Annotation.objects.filter(review_item_id=item.pk).order_by("version").values(
                "id", "version", "origin", "author__username", "boxes", "count", "verdict", "note", "diff",
                "time_spent_seconds", "submitted_at")
        )
        events = list(
            AuditEvent.objects.filter(object_type="review_item", object_id=str(item.pk)).order_by("created_at", "id")
            .values("id", "action", "actor__username", "before", "after", "created_at")
        )
        return Response({"item": item_payload(item) | {"lease_token": ""}, "versions": versions, "events": events})
