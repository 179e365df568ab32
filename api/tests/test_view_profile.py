"""The profile page: a user creates (the secret shown once) and revokes their own tokens."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from api.models import ApiToken
from api.services import api_token_authenticate, api_token_create

URL = "/accounts/profile/"


def test_it_shows_the_users_roles_and_tokens_without_secrets(
    client: Client, experimenter: Any, viewer: Any
) -> None:
    mine = api_token_create(user=experimenter, name="laptop")
    api_token_create(user=viewer, name="someone else's")
    client.force_login(experimenter)

    content = client.get(URL).content.decode()

    assert "experimenter" in content
    assert "laptop" in content
    assert mine.token.prefix in content
    assert mine.secret not in content
    assert "someone else" not in content


def test_it_shows_a_new_token_once(client: Client, experimenter: Any) -> None:
    client.force_login(experimenter)

    response = client.post(URL + "tokens/", {"name": "CI"})

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    shown = re.search(r'id="new-token-secret">([^<]+)<', response.content.decode())
    assert shown is not None
    secret = shown.group(1)
    assert api_token_authenticate(secret=secret) == experimenter
    assert secret not in client.get(URL).content.decode()


def test_it_refuses_a_token_without_a_name(client: Client, experimenter: Any) -> None:
    client.force_login(experimenter)

    response = client.post(URL + "tokens/", {"name": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_revokes_the_users_own_token(client: Client, experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="old")
    client.force_login(experimenter)

    response = client.post(f"{URL}tokens/{issued.token.pk}/revoke/", follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert f"Token #{issued.token.pk} is revoked" in response.content.decode()
    assert api_token_authenticate(secret=issued.secret) is None


def test_it_does_not_revoke_someone_elses_token(
    client: Client, experimenter: Any, viewer: Any
) -> None:
    theirs = api_token_create(user=viewer, name="theirs")
    client.force_login(experimenter)

    response = client.post(f"{URL}tokens/{theirs.token.pk}/revoke/", follow=True)

    assert f"There is no token #{theirs.token.pk} of yours." in response.content.decode()
    assert api_token_authenticate(secret=theirs.secret) == viewer


def test_it_lets_a_user_without_a_role_have_tokens(client: Client, outsider: Any) -> None:
    client.force_login(outsider)

    assert client.get(URL).status_code == 200
    assert client.post(URL + "tokens/", {"name": "x"}).status_code == 201


def test_it_sends_anonymous_users_to_the_login_page(client: Client, db: Any) -> None:
    for response in (client.get(URL), client.post(URL + "tokens/", {"name": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert not ApiToken.objects.exists()


def test_it_needs_the_csrf_token(experimenter: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(experimenter)

    assert client.post(URL + "tokens/", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_it_refuses_get_on_the_forms(client: Client, experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="t")
    client.force_login(experimenter)

    assert client.get(URL + "tokens/").status_code == 405
    assert client.get(f"{URL}tokens/{issued.token.pk}/revoke/").status_code == 405
