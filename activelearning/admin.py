from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from activelearning.models import RoutingPolicy
from activelearning.policy import PolicyInvalid, validate_policy
from activelearning.services import save_policy


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
