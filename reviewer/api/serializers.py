"""Shapes of the reviewer API (API.md, "People")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from annotations.int64 import INT64_MAX, INT64_MIN
from annotations.models import Annotation
from reviewer.flags import review_context
from reviewer.models import ReviewItem
from reviewer.selectors import dispute_context


class CommentRegionSerializer(serializers.Serializer):
    """The part of the frame a rejection comment is about, in image pixels (shown to the next annotator)."""

    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4,
                                help_text="[x, y, w, h] in pixels of the asset")
    frame_index = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=INT64_MAX,
                                           default=None)


class ReviewBoxSerializer(serializers.Serializer):
    """One box of a reviewer's fix: the shape of a submit's boxes (reviewer/api/bodies.py `Box`)."""

    label = serializers.CharField(min_length=1, max_length=64)
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4,
                                help_text="[x, y, w, h] in image pixels")
    frame_index = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=INT64_MAX)
    track_id = serializers.IntegerField(required=False, allow_null=True, min_value=INT64_MIN, max_value=INT64_MAX)


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    region = CommentRegionSerializer(required=False, allow_null=True, default=None)
    boxes = ReviewBoxSerializer(
        many=True, required=False, allow_null=True, default=None, max_length=2000,
        help_text="Fix and accept: the reviewer's corrected boxes, stored as a new version (origin `review`) that "
                  "becomes the accepted ground truth. Only with `accept`.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["decision"] == "reject" and not attrs["comment"].strip():
            raise serializers.ValidationError({"comment": "A rejection needs a comment for the next annotator."})
        if attrs["decision"] == "reject" and attrs["boxes"] is not None:
            raise serializers.ValidationError({"boxes": "Boxes go only with an accept (fix and accept)."})
        return attrs


def _rework(item: ReviewItem) -> dict[str, Any] | None:
    """The rejected version this item's rework starts from, with the reviewer's comment (one query, only for
    rejected work)."""
    if item.rework_from_id is None:
        return None
    version = Annotation.objects.filter(pk=item.rework_from_id).values(
        "version", "author__username", "boxes", "count", "verdict", "note").first()
    if version is None:
        return None
    return {"version": version["version"], "author": version["author__username"], "boxes": version["boxes"],
            "count": version["count"], "verdict": version["verdict"], "note": version["note"],
            "comment": item.last_comment, "region": item.last_comment_region}


def item_payload(item: ReviewItem) -> dict[str, Any]:
    """What an annotator needs to work on an item (kept lean: this is the claim hot path; only a `count_flag`
    item costs extra queries, for its flag's window, note and counts)."""
    asset = item.asset
    prediction = item.prediction
    return {
        "id": item.pk,
        "project": item.project_id,
        "reason": item.reason,
        "priority": item.priority,
        "score_parts": item.score_parts,
        "status": item.status,
        "site": item.site_id,
        "camera": item.camera_id,
        "lease_token": item.lease_token,
        "lease_expires_at": item.lease_expires_at.isoformat() if item.lease_expires_at else None,
        "last_comment": item.last_comment,
        "last_comment_region": item.last_comment_region,
        "prelabel_threshold": item.project.prelabel_threshold,
        "prefetch": item.lease_prefetch,
        "resumed": bool(getattr(item, "resumed", False)),
        "rework": _rework(item),
        "asset": None if asset is None else {
            "sha256": asset.sha256, "kind": asset.kind, "content_type": asset.content_type,
            "width": asset.width, "height": asset.height, "fps": asset.fps, "frame_count": asset.frame_count,
            "url": f"/api/v1/assets/{asset.sha256}",
            "frames_url": f"/api/v1/assets/{asset.sha256}/frames/{{n}}.jpg",
        },
        "prelabel": None if prediction is None else {
            "prediction": prediction.pk, "model": {"name": prediction.model_name,
                                                   "version": prediction.model_version,
                                                   "display_name": prediction.model_display_name},
            "frame_index": prediction.frame_index, "boxes": prediction.detections,
            "count": prediction.count_value, "captured_at": prediction.captured_at.isoformat(),
        },
        "count_flag": review_context(item=item),
        "dispute": dispute_context(item),
    }
