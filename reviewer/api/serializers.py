"""Shapes of the reviewer API (API.md, "People")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from annotations.models import Verdict
from reviewer.models import Reason, ReviewItem


class ClaimSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Reason.choices, required=False)
    site = serializers.IntegerField(required=False, min_value=1)


class LeaseSerializer(serializers.Serializer):
    lease_token = serializers.CharField(max_length=64)


class BoxSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=64)
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    frame_index = serializers.IntegerField(required=False, min_value=0)
    track_id = serializers.IntegerField(required=False)


class SubmitSerializer(LeaseSerializer):
    boxes = BoxSerializer(many=True, max_length=2000)
    count = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=1_000_000)
    verdict = serializers.ChoiceField(choices=Verdict.choices, default=Verdict.CORRECT)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    started_at = serializers.DateTimeField(required=False)
    wrong_tracks = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                         max_length=1000,
                                         help_text="Operators: the field model's track ids that were wrong.")

    def validate_boxes(self, boxes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Boxes must lie (at least partly) in the frame, have a size, a project label and a real frame."""
        item: ReviewItem = self.context["item"]
        labels = set(item.project.label_classes or ())
        asset = item.asset
        errors: dict[str, str] = {}
        for i, entry in enumerate(boxes):
            x, y, w, h = entry["box"]
            if labels and entry["label"] not in labels:
                errors[str(i)] = f"unknown label {entry['label']!r}"
            elif w <= 0 or h <= 0:
                errors[str(i)] = "zero or negative size"
            elif asset is not None and (x >= asset.width or y >= asset.height or x + w <= 0 or y + h <= 0):
                errors[str(i)] = "entirely outside the frame"
            elif asset is not None and entry.get("frame_index", 0) >= (asset.frame_count or 1):
                errors[str(i)] = "frame_index beyond the clip"
        if errors:
            raise serializers.ValidationError(errors)
        return boxes


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")

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
        "asset": None if asset is None else {
            "sha256": asset.sha256, "kind": asset.kind, "content_type": asset.content_type,
            "width": asset.width, "height": asset.height, "fps": asset.fps, "frame_count": asset.frame_count,
            "url": f"/api/v1/assets/{asset.sha256}",
            "frames_url": f"/api/v1/assets/{asset.sha256}/frames/{{n}}.jpg",
        },
        "prelabel": None if prediction is None else {
            "prediction": prediction.pk, "model": {"name": prediction.model_name,
                                                   "version": prediction.model_version},
            "frame_index": prediction.frame_index, "boxes": prediction.detections,
            "count": prediction.count_value, "captured_at": prediction.captured_at.isoformat(),
        },
    }
