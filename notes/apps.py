from __future__ import annotations

from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Tags and notes"
    default_auto_field = "django.db.models.BigAutoField"
