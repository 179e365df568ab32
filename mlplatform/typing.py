"""Types the apps share.

`Actor` is whoever asks a service to act: a logged-in user (the
AUTH_USER_MODEL, Django's `User`, which is what django-stubs makes of
`request.user`), the anonymous user of a request, or None for the platform
itself (a worker, a command run without --user). Services check permissions on
it with `has_perm`, which `User` and `AnonymousUser` have and
`AbstractBaseUser` has not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django_htmx.middleware import HtmxDetails

# A string, so that importing this module loads no models.
Actor: TypeAlias = "User | AnonymousUser | None"


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (every request
    does, see MIDDLEWARE): views that read `request.htmx` take this."""

    htmx: HtmxDetails
