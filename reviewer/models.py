"""The review queue: one ReviewItem per thing a person should look at."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Annotation, Asset, Camera, Prediction, Project, Site


class Reason(models.TextChoices):
    LOW_CONFIDENCE = "low_confidence"
    DISPUTED = "disputed"
    MODEL_DISAGREEMENT = "model_disagreement"
    OOD = "ood"
    AUDIT_SAMPLE = "audit_sample"
    COUNT_FLAG = "count_flag"
    QA = "qa"
    UNCERTAINTY = "uncertainty"
    POLICY_RULE = "policy_rule"


class ItemStatus(models.TextChoices):
    PENDING = "pending"
    LEASED = "leased"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# Open work: everything not accepted yet (accepted items are history). One Q for the gauge and its index, so
# the planner can prove the index's condition from the query's.
OPEN_ITEM = ~Q(status=ItemStatus.ACCEPTED)


class ReviewItem(models.Model):
    """Why an asset deserves a look (reason, priority and its parts), and who is looking (lease)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="review_items")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="review_items")
    prediction = models.ForeignKey(
        Prediction, on_delete=models.CASCADE, null=True, blank=True, related_name="review_items"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, null=True, blank=True, related_name="review_items")
    camera = models.ForeignKey(Camera, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    priority = models.FloatField(help_text="In [0, 1]; the claim queue serves the highest first.")
    score_parts = models.JSONField(default=dict, help_text="Each signal's contribution, so people see why.")
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    required_overlap = models.PositiveSmallIntegerField(default=1)
    annotations_count = models.PositiveSmallIntegerField(default=0, help_text="Versions submitted this round.")
    last_comment = models.TextField(blank=True, help_text="The reviewer's reason for the last rejection.")
    last_comment_region = models.JSONField(
        null=True, blank=True,
        help_text='Where on the frame the last rejection points: {"box": [x, y, w, h], "frame_index": n|null}.')
    agreement = models.FloatField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True, help_text="When QA (or the workflow) accepted it.")
    lease_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lease_token = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    lease_prefetch = models.BooleanField(
        default=False, db_default=False,  # a database default too: bulk SQL inserts (benches) need not name it
        help_text="Claimed ahead of time by the browser: a short lease, at most one per person.")
    rework_author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Whose rejected work this is: they get it back first, until rework_until.")
    rework_until = models.DateTimeField(null=True, blank=True)
    rework_from = models.ForeignKey(
        Annotation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The rejected version the rework starts from.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=0) & Q(priority__lte=1), name="item_priority_in_unit"),
            models.CheckConstraint(condition=Q(required_overlap__gte=1), name="item_overlap_positive"),
            models.CheckConstraint(
                condition=~Q(status="leased") | (Q(lease_holder__isnull=False) & Q(lease_expires_at__isnull=False)),
                name="item_lease_has_holder_and_expiry",
            ),
            # One item per device prediction: a re-sent event never queues twice.
            models.UniqueConstraint(
                fields=["prediction"], condition=Q(prediction__isnull=False), name="item_one_per_prediction"
            ),
        ]
        indexes = [
            # The claim query: highest priority pending item of a project; partial so it stays small.
            models.Index(
                "project", models.F("priority").desc(), "id",
                condition=Q(status="pending"), name="item_claim_pending",
            ),
            # Expired leases are claimable too; this finds them without scanning pending items.
            models.Index(
                "project", "lease_expires_at", condition=Q(status="leased"), name="item_lease_expiry",
            ),
            # Budget caps count a site's items in a time window.
            models.Index(fields=["project", "site", "created_at"], name="item_site_time"),
            models.Index(fields=["project", "created_at"], name="item_project_time"),
            # Rejected work waiting for its author: found without scanning the pending queue.
            models.Index("rework_author", "id", condition=Q(status="pending", rework_author__isnull=False),
                         name="item_rework_pending"),
            # The queue-depth gauge (reviewer/metrics.py) counts open items by (reason, status) at every scrape:
            # an index-only scan of this, already in GROUP BY order, instead of reading the whole table. Partial
            # on OPEN_ITEM, the query's own filter, so accepted history (most of the rows) is not in it.
            models.Index(fields=["reason", "status"], condition=OPEN_ITEM, name="item_open_by_reason"),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} ({self.reason}, {self.priority:.2f}, {self.status})"


class FlagStatus(models.TextChoices):
    OPEN = "open"
    REVIEWED = "reviewed"


class CountFlag(models.Model):
    """A person's claim that a camera's model count over a time window is wrong, with the count they saw.

    It queues a `count_flag` ReviewItem; `assets` lists the window's frames/clips (sha256, capped) so the
    reviewer sees them, and `model_count` freezes what the model said when the flag was raised.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="count_flags")
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="count_flags")
    flagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    observed_count = models.PositiveIntegerField()
    model_count = models.PositiveIntegerField(help_text="Sum of the camera's count events in the window.")
    note = models.TextField(blank=True)
    assets = models.JSONField(default=list, blank=True, help_text="sha256 of the window's frames/clips, capped.")
    status = models.CharField(max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    review_item = models.OneToOneField(ReviewItem, on_delete=models.PROTECT, related_name="count_flag")
    # The outcome the flagger reads back: the count of the item's accepted version, and when it was accepted.
    reviewed_count = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="The true count the accepted review settled on.")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(window_end__gt=models.F("window_start")),
                                   name="count_flag_window_ordered"),
        ]
        indexes = [
            # The camera's flag list, newest first.
            models.Index(fields=["camera", "-created_at"], name="count_flag_camera_time"),
            models.Index(fields=["project", "status"], name="count_flag_project_status"),
        ]

    def __str__(self) -> str:
        return f"count flag {self.pk} on camera {self.camera_id} ({self.status})"


class ItemSkip(models.Model):
    """A person skipped an item: it is not offered to them again for a while (`LOUPE_SKIP_MEMORY_SECONDS`),
    and goes to someone else. Append-only; the reason is what they said."""

    review_item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The claim asks "did this person skip this item lately?" for each candidate.
            models.Index(fields=["review_item", "user", "-created_at"], name="skip_item_user_time"),
        ]

    def __str__(self) -> str:
        return f"item {self.review_item_id} skipped by {self.user_id}"
