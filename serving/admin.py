"""Batch scoring runs in the admin: recorded by `manage.py score`, shown, never edited."""

from __future__ import annotations

from django.contrib import admin

from mlplatform.admin_base import ReadOnlyAdmin
from serving.models import ScoringRun


@admin.register(ScoringRun)
class ScoringRunAdmin(ReadOnlyAdmin[ScoringRun]):
    list_display = [
        "id", "model_version", "input_path", "rows", "positives", "user_name", "started_at",
        "duration_seconds",
    ]  # fmt: skip
    list_select_related = ["model_version__registered_model"]
    search_fields = ["input_path", "input_sha256", "user_name"]
    readonly_fields = [field.name for field in ScoringRun._meta.fields]
