"""manage.py api_token create | list | revoke."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from api.models import ApiToken
from api.services import TOKEN_PATTERN, api_token_authenticate


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_creates_a_token_and_prints_it_once(experimenter: Any) -> None:
    printed, told = run("create", "erin", "--name", "CI")

    secret = printed.strip()
    assert TOKEN_PATTERN.fullmatch(secret)
    assert api_token_authenticate(secret=secret) == experimenter
    assert "shown once" in told
    listed, _ = run("list")
    assert secret not in listed
    assert "'CI'" in listed
    assert secret[:12] in listed


def test_it_creates_a_token_as_json(experimenter: Any) -> None:
    printed, _ = run("create", "erin", "--name", "CI", "--json")

    created = json.loads(printed)
    assert created["user"] == "erin"
    assert api_token_authenticate(secret=created["token"]) == experimenter


def test_it_lists_a_users_tokens_as_json(experimenter: Any, viewer: Any) -> None:
    run("create", "erin", "--name", "one")
    run("create", "vera", "--name", "two")

    listed = json.loads(run("list", "vera", "--json")[0])

    assert [(token["user"], token["name"]) for token in listed] == [("vera", "two")]
    assert "token" not in listed[0]


def test_it_revokes_a_token(experimenter: Any) -> None:
    secret = run("create", "erin", "--name", "CI")[0].strip()
    token = ApiToken.objects.get()

    assert run("revoke", str(token.pk))[0].strip() == f"token #{token.pk} revoked"
    assert api_token_authenticate(secret=secret) is None
    assert json.loads(run("revoke", str(token.pk), "--json")[0]) == {
        "id": token.pk,
        "revoked": False,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "nobody", "--name", "x"), "user 'nobody' does not exist"),
        (("create", "erin", "--name", " "), "Give the token a name"),
        (("revoke", "77"), "There is no token #77."),
    ],
)
def test_it_fails_with_a_clear_message(
    experimenter: Any, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
