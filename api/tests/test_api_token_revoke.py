from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from api.models import ApiToken
from api.services import api_token_authenticate, api_token_create, api_token_revoke


def test_it_revokes_a_token_at_once(experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="t")

    assert api_token_revoke(token_id=issued.token.pk, user=experimenter) is True

    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert api_token_authenticate(secret=issued.secret) is None


def test_it_says_when_the_token_was_revoked_already(experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="t")
    api_token_revoke(token_id=issued.token.pk)
    first = ApiToken.objects.get().revoked_at

    assert api_token_revoke(token_id=issued.token.pk) is False
    assert ApiToken.objects.get().revoked_at == first


def test_it_lets_users_revoke_only_their_own_tokens(experimenter: Any, viewer: Any) -> None:
    issued = api_token_create(user=experimenter, name="t")

    with pytest.raises(ValidationError, match=f"There is no token #{issued.token.pk} of yours"):
        api_token_revoke(token_id=issued.token.pk, user=viewer)

    assert ApiToken.objects.get().is_active


def test_it_refuses_an_unknown_token(db: Any) -> None:
    with pytest.raises(ValidationError, match=r"There is no token #99\."):
        api_token_revoke(token_id=99)
