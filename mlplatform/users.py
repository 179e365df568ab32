"""Who is acting, for management commands run from a shell."""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import CommandError


def user_for_command(username: str | None) -> tuple[User | None, str]:
    """The named Django user, or (None, 'cli:<os user>') when none is named."""
    if not username:
        return None, f"cli:{getpass.getuser()}"
    try:
        user = get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"user {username!r} does not exist") from None
    return user, user.get_username()
