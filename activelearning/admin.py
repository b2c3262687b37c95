from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from activelearning.registry.models import ModelEvaluation, ModelVersion, PrelabelRun
from activelearning.routing.models import RoutingPolicy
from activelearning.routing.policy import PolicyInvalid, validate_policy
from activelearning.routing.services import save_policy


class RoutingPolicyForm(forms.ModelForm):
    class Meta:
        model = RoutingPolicy
        fields = ["project", "document"]

    def clean_document(self) -> Any:
        document = self.cleaned_data["document"]
        try:
            validate_policy(document)
        except PolicyInvalid as exc:
            raise ValidationError([f"{e['path']}: {e['message']}" for e in exc.errors]) from exc
        return document


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(admin.ModelAdmin):
    """Versions are immutable: "add" stores the next version, existing ones are read-only."""

    form = RoutingPolicyForm
    list_display = ["project", "version", "created_by", "created_at"]
    list_filter = ["project"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return obj is None

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        saved = save_policy(project=obj.project, document=obj.document, user=request.user)
        obj.pk, obj.version = saved.pk, saved.version


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Read-only in the Django admin: uploads are validated and promotions approved through the API/app,
    which audit them; staff can inspect and take a model out of service here."""

    list_display = ["project", "name", "version", "status", "out_of_service", "sha256", "created_at"]
    list_filter = ["project", "status", "out_of_service"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields if f.name not in ("out_of_service",
                                                                                  "out_of_service_reason")]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(PrelabelRun)
class PrelabelRunAdmin(admin.ModelAdmin):
    list_display = ["review_item", "model_version", "status", "created_at"]
    list_filter = ["status", "model_version"]
    readonly_fields = [f.name for f in PrelabelRun._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(ModelEvaluation)
class ModelEvaluationAdmin(admin.ModelAdmin):
    list_display = ["model_version", "baseline", "status", "images", "created_at", "finished_at"]
    readonly_fields = [f.name for f in ModelEvaluation._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
