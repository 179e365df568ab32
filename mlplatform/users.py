"""Who is acting: the user a management command names, and the user a
service records."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError
from django.http import HttpRequest

from mlplatform.origin import os_account
from mlplatform.typing import Actor


def user_for_command(username: str | None) -> tuple[User | None, str]:
    """The named Django user, or (None, 'cli:<os user>') when none is named."""
    if not username:
        return None, f"cli:{os_account()}"
    try:
        user = get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"user {username!r} does not exist") from None
    return user, user.get_username()


def signed_in_user(request: HttpRequest) -> User:
    """The user of a request that @login_required let through."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied("log in first")
    return user


def acting_user(actor: Actor) -> User | None:
    """The user to record as having acted: None when the platform itself acts
    (a worker, a command run without --user). An anonymous user never acts."""
    if actor is None:
        return None
    if not actor.is_authenticated:
        raise PermissionDenied("log in first: an anonymous user cannot do this")
    return actor
