"""mlplatform.users.acting_user: who a service records as having acted."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from mlplatform.users import acting_user


def test_it_records_a_logged_in_user(experimenter: User) -> None:
    assert acting_user(experimenter) == experimenter


def test_it_records_nobody_when_the_platform_acts() -> None:
    assert acting_user(None) is None


def test_it_refuses_an_anonymous_user() -> None:
    with pytest.raises(PermissionDenied, match="an anonymous user cannot do this"):
        acting_user(AnonymousUser())
