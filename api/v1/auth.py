"""Who is calling, and may they. Two ways in, tried in this order:

- `Authorization: Bearer <token>`: a personal API token. A token that is
  malformed, unknown or revoked is a 401 at once (no falling back to a
  session), so a script never runs as someone else by accident.
- the browser's session cookie, for the UI's own calls and the docs page;
  unsafe methods must then carry the CSRF token (X-CSRFToken header).

Each operation names the permissions it needs: the same Django permissions
the web views require, granted by the same role groups (registry/roles.py).
Authenticated but not permitted is a 403 naming the permission and the roles
that grant it; the services called afterwards check their own rules as they
do for the web (nobody approves their own request, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from api.services import api_token_authenticate
from api.v1.errors import ApiError
from registry.roles import ROLES

if TYPE_CHECKING:
    pass

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def caller(request: HttpRequest) -> User:
    """The user an authenticated operation acts as (ninja puts it on
    request.auth once one of the authenticators below has admitted it)."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise ApiError(401, "not_authenticated", "authentication required")
    return user


def _permitted(user: User, permissions: Sequence[str]) -> User:
    missing = [permission for permission in permissions if not user.has_perm(permission)]
    if missing:
        roles = sorted({role for role, granted in ROLES.items() if set(missing) <= set(granted)})
        granted_by = f" (granted by the role {' or '.join(roles)})" if roles else ""
        raise PermissionDenied(
            f"{user.get_username()} may not do this: it needs {', '.join(missing)}{granted_by}"
        )
    return user


class BearerToken(HttpBearer):
    """A personal API token (create one on the profile page or with manage.py api_token)."""

    def __init__(self, permissions: Sequence[str] = ()) -> None:
        self.permissions = tuple(permissions)
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(secret=token)
        if user is None:
            raise ApiError(401, "invalid_token", "the API token is unknown, malformed or revoked")
        request.user = user
        return _permitted(user, self.permissions)


class SessionCookie(APIKeyCookie):
    """The browser session of a logged-in user; unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, permissions: Sequence[str] = ()) -> None:
        self.permissions = tuple(permissions)
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        # CSRF is checked in authenticate, once a session user is known: a
        # token client without a cookie must get a 401, not a CSRF 403.
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ApiError(
                403,
                "csrf_failed",
                "a call made with the session cookie must carry the CSRF token "
                "(X-CSRFToken header); scripts should use an API token instead",
            )
        return _permitted(user, self.permissions)


def requires(*permissions: str) -> list[Any]:
    """The `auth` of an operation that needs these permissions."""
    return [BearerToken(permissions), SessionCookie(permissions)]
