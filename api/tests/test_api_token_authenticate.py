from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import DjangoAssertNumQueries

from api.models import ApiToken
from api.services import api_token_authenticate, api_token_create


def test_it_finds_the_user_and_notes_the_use(experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="t")

    assert api_token_authenticate(secret=issued.secret) == experimenter

    assert ApiToken.objects.get().last_used_at is not None


def test_it_writes_the_last_use_at_most_once_a_minute(
    experimenter: Any, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    issued = api_token_create(user=experimenter, name="t")
    api_token_authenticate(secret=issued.secret)

    with django_assert_num_queries(1):  # the lookup, no write
        api_token_authenticate(secret=issued.secret)

    earlier = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.update(last_used_at=earlier)
    api_token_authenticate(secret=issued.secret)
    last_used_at = ApiToken.objects.get().last_used_at
    assert last_used_at is not None
    assert last_used_at > earlier


@pytest.mark.parametrize(
    "secret",
    ["", "mlp_short", "Bearer x", "mlp_" + "A" * 40, "mlp_" + "!" * 40, "x" * 10_000],
)
def test_it_knows_no_user_for_a_secret_it_did_not_issue(
    experimenter: Any, secret: str, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    api_token_create(user=experimenter, name="t")

    with django_assert_max_num_queries(1):
        assert api_token_authenticate(secret=secret) is None


def test_it_refuses_the_token_of_an_inactive_user(experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="t")
    experimenter.is_active = False
    experimenter.save(update_fields=["is_active"])

    assert api_token_authenticate(secret=issued.secret) is None
