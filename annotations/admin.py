from django.contrib import admin

from annotations.models import (
    Annotation,
    Asset,
    AssetHolding,
    AuditEvent,
    Camera,
    Device,
    Membership,
    Prediction,
    Project,
    Site,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    filter_horizontal = ["sites"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "retrain_threshold", "consensus_overlap", "qa_sample_rate", "blur_faces",
                    "created_at"]
    list_filter = ["blur_faces"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "kind", "timezone"]
    list_filter = ["project", "kind"]


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "device", "last_seen_at"]
    list_filter = ["site__project"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "site", "token_prefix", "revoked_at", "last_seen_at", "software_version",
                    "temperature_c", "outbox_depth"]
    list_filter = ["project", "revoked_at"]
    # Tokens are issued by `create_device`; the admin never sees or sets one.
    readonly_fields = ["token_hash", "token_prefix", "last_seen_at", "software_version", "model_sha256",
                       "uptime_seconds", "disk_free_bytes", "temperature_c", "fps", "dropped_frames", "outbox_depth"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class AssetHoldingInline(admin.TabularInline):
    """The projects that hold the asset (read-only: holdings come from uploads)."""

    model = AssetHolding
    extra = 0
    readonly_fields = ["project", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Asset)
class AssetAdmin(ReadOnlyAdmin):
    list_display = ["sha256", "kind", "width", "height", "frame_count", "brightness", "blur", "created_at"]
    list_filter = ["kind"]
    search_fields = ["sha256"]
    inlines = [AssetHoldingInline]


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "event_type", "project", "device", "camera", "detection_count", "reason",
                    "captured_at"]
    list_filter = ["project", "event_type", "reason"]
    search_fields = ["event_id"]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["asset", "version", "author", "verdict", "submitted_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "actor", "actor_device", "action", "object_type", "object_id"]
    list_filter = ["project", "action", "object_type"]
    search_fields = ["object_id", "request_id"]
