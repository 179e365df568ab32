"""mlplatform.users.signed_in_user: the user of a request @login_required let through."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from mlplatform.users import signed_in_user


def test_it_gives_the_logged_in_user(experimenter: User) -> None:
    request = RequestFactory().get("/")
    request.user = experimenter

    assert signed_in_user(request) == experimenter


def test_it_refuses_an_anonymous_request() -> None:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()

    with pytest.raises(PermissionDenied, match="log in first"):
        signed_in_user(request)
