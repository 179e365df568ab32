from __future__ import annotations

from typing import Any

from django.test import Client

from api.models import ApiToken
from api.services import api_token_authenticate, api_token_create

TOKENS = "/admin/api/apitoken/"


def test_it_lists_tokens_without_their_secrets(admin_client: Client, experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="CI")

    page = admin_client.get(TOKENS).content.decode()

    assert "CI" in page
    assert issued.token.prefix in page
    assert issued.secret not in page
    assert issued.token.secret_sha256 not in page
    assert "Add api token" not in page


def test_it_revokes_tokens_through_the_service(admin_client: Client, experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="CI")

    response = admin_client.post(
        TOKENS, {"action": "revoke", "_selected_action": [issued.token.pk]}, follow=True
    )

    assert "1 token(s) revoked." in response.content.decode()
    assert api_token_authenticate(secret=issued.secret) is None


def test_it_refuses_to_edit_a_token(admin_client: Client, experimenter: Any) -> None:
    issued = api_token_create(user=experimenter, name="CI")

    response = admin_client.post(f"{TOKENS}{issued.token.pk}/change/", {"name": "renamed"})

    assert response.status_code == 403
    assert ApiToken.objects.get().name == "CI"
