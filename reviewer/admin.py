from django.contrib import admin

from reviewer.models import ReviewItem


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "reason", "priority", "status", "site", "lease_holder", "lease_expires_at",
                    "created_at"]
    list_filter = ["project", "reason", "status"]
    readonly_fields = ["score_parts", "policy_version", "prediction", "asset"]
    ordering = ["-priority"]
