from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from api.models import ApiToken
from api.services import TOKEN_PATTERN, api_token_create


def test_it_issues_a_secret_and_stores_only_its_digest(experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="  CI pipeline ")

    token = ApiToken.objects.get()
    assert TOKEN_PATTERN.fullmatch(issued.secret)
    assert token.secret_sha256 == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in {token.name, token.prefix, token.secret_sha256}
    assert token.prefix == issued.secret[:12]
    assert (token.user, token.name, token.is_active) == (experimenter, "CI pipeline", True)
    assert token.last_used_at is None


def test_it_issues_a_different_secret_every_time(experimenter: Any) -> None:
    secrets = {api_token_create(user=experimenter, name="t").secret for _ in range(5)}

    assert len(secrets) == 5


@pytest.mark.parametrize(
    ("name", "message"),
    [("  ", "Give the token a name"), ("x" * 101, "at most 100"), ("a\x00b", "at most 100")],
)
def test_it_refuses_a_bad_name(experimenter: Any, name: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        api_token_create(user=experimenter, name=name)

    assert not ApiToken.objects.exists()


def test_it_refuses_an_inactive_user(experimenter: Any) -> None:
    experimenter.is_active = False

    with pytest.raises(ValidationError, match="erin is inactive"):
        api_token_create(user=experimenter, name="t")
