"""Reads for the model registry."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from activelearning.registry.models import ModelVersion
from annotations.errors import NotFound
from annotations.selectors import access_project


def access_model(*, user: AbstractBaseUser | AnonymousUser, model_id: int,
                 roles: list[str] | None = None) -> ModelVersion:
    """The model version, if the caller is a member of its project with one of `roles` (404 for outsiders)."""
    model = ModelVersion.objects.filter(pk=model_id).first()
    if model is None:
        raise NotFound("Not found.")
    access_project(user=user, project_id=model.project_id, roles=roles)
    return model
