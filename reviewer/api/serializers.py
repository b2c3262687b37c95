"""Shapes of the reviewer API (API.md, "People")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from reviewer.models import ReviewItem


class CommentRegionSerializer(serializers.Serializer):
    """The part of the frame a rejection comment is about, in image pixels (shown to the next annotator)."""

    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4,
                                help_text="[x, y, w, h] in pixels of the asset")
    frame_index = serializers.IntegerField(required=False, allow_null=True, min_value=0, default=None)


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    region = CommentRegionSerializer(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["decision"] == "reject" and not attrs["comment"].strip():
            raise serializers.ValidationError({"comment": "A rejection needs a comment for the next annotator."})
        return attrs


def item_payload(item: ReviewItem) -> dict[str, Any]:
    """What an annotator needs to work on an item (kept lean: this is the claim hot path)."""
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
    }
