"""Local demo accounts in the role groups."""

from __future__ import annotations

from typing import Any

from registry.roles import roles_ensure


def role_user_ensure(*, username: str, password: str, role: str) -> Any:
    """A local demo account in one role group; its password is reset each time."""
    from django.contrib.auth.models import Group, User

    roles_ensure()
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.save(update_fields=["password"])
    user.groups.set([Group.objects.get(name=role)])
    return user
