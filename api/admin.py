"""API tokens in the admin: listed (never their secrets) and revoked through
the service; they are created by their users (profile page) or with
`manage.py api_token create`."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from api.models import ApiToken
from api.services import api_token_revoke
from mlplatform.admin_base import ReadOnlyAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin[ApiToken]):
    list_display = ["id", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ["user__username", "name", "prefix"]
    list_select_related = ["user"]
    fields = readonly_fields = (
        "user",
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(api_token_revoke(token_id=token.pk) for token in queryset)
        messages.success(request, f"{revoked} token(s) revoked.")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser
