"""What every app's admin shares: records are shown, never written there.

Writes go through the services (commands, the web UI, and the admin's own
actions, which call those services)."""

from __future__ import annotations

from typing import TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

_ModelT = TypeVar("_ModelT", bound=Model)
_ParentModelT = TypeVar("_ParentModelT", bound=Model)


class ViewOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyAdmin(ViewOnlyMixin, admin.ModelAdmin[_ModelT]):
    pass


class ReadOnlyInline(ViewOnlyMixin, admin.TabularInline[_ModelT, _ParentModelT]):
    extra = 0
    can_delete = False
    show_change_link = True
