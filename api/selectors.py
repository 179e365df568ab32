from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import F, QuerySet

from api.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens, live ones first, newest first."""
    live_first = F("revoked_at").desc(nulls_first=True)
    return ApiToken.objects.filter(user=user).order_by(live_first, "-created_at", "-id")


def api_tokens_list(*, username: str = "") -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
    return tokens.filter(user__username=username) if username else tokens
