"""Who may call the API: a personal token (Bearer) or the browser session
with its CSRF token; failures are JSON, never a redirect to the login page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.models import ApiToken
from api.services import api_token_create, api_token_revoke

ME = "/api/v1/me/"
SUBMIT = "/api/v1/experiments/"


def error_of(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    return error


def test_it_knows_the_user_behind_a_token(client: Client, experimenter: User) -> None:
    secret = api_token_create(user=experimenter, name="t").secret

    response = client.get(ME, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200
    assert response.json()["username"] == "erin"
    assert response.json()["roles"] == ["experimenter"]
    assert "experiments.add_experiment" in response.json()["permissions"]
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_401_json_without_credentials(client: Client, db: Any, method: str) -> None:
    response = getattr(client, method)(ME if method == "get" else SUBMIT)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="mlplatform"'
    assert error_of(response)["code"] == "not_authenticated"
    assert "Authorization: Bearer" in error_of(response)["message"]


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer ", "Bearer mlp_" + "x" * 40, "bearer mlp_" + "y" * 40]
)
def test_it_answers_401_for_a_token_it_did_not_issue(client: Client, db: Any, header: str) -> None:
    response = client.get(ME, headers={"Authorization": header})

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_it_refuses_a_revoked_token_even_beside_a_session(
    client: Client, experimenter: User
) -> None:
    issued = api_token_create(user=experimenter, name="t")
    api_token_revoke(token_id=issued.token.pk)
    client.force_login(experimenter)

    response = client.get(ME, headers={"Authorization": f"Bearer {issued.secret}"})

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_it_refuses_the_token_of_a_deactivated_user(client: Client, experimenter: User) -> None:
    secret = api_token_create(user=experimenter, name="t").secret
    User.objects.filter(pk=experimenter.pk).update(is_active=False)

    response = client.get(ME, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 401


def test_it_does_not_take_basic_credentials(client: Client, experimenter: User) -> None:
    response = client.get(ME, headers={"Authorization": "Basic ZXJpbjpwdy1lcmlu"})

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_it_accepts_the_browser_session_for_reads(client: Client, viewer: User) -> None:
    client.force_login(viewer)

    assert client.get(ME).json()["username"] == "vera"


def test_it_demands_the_csrf_token_of_a_session_for_writes(
    experimenter: User, make_config: Callable[..., str]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(experimenter)
    body = {"config": make_config()}

    refused = client.post(SUBMIT, body, content_type="application/json")
    client.get("/accounts/profile/")  # sets the CSRF cookie, as any page does
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        SUBMIT, body, content_type="application/json", headers={"X-CSRFToken": token}
    )

    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"
    assert accepted.status_code == 201


def test_it_needs_no_csrf_token_with_an_api_token(
    experimenter: User, make_config: Callable[..., str]
) -> None:
    client = Client(enforce_csrf_checks=True)
    secret = api_token_create(user=experimenter, name="t").secret

    response = client.post(
        SUBMIT,
        {"config": make_config()},
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 201


def test_it_names_the_permission_and_role_a_user_lacks(
    api_as: Callable[..., Any], viewer: User
) -> None:
    response = api_as(viewer).post(SUBMIT, {"config": "x"})

    assert response.status_code == 403
    assert error_of(response) == {
        "code": "permission_denied",
        "message": "vera may not do this: it needs experiments.add_experiment "
        "(granted by the role experimenter)",
    }


def test_it_refuses_a_user_without_a_role_everything_but_who_they_are(
    api_as: Callable[..., Any], outsider: User
) -> None:
    api = api_as(outsider)

    assert api.get(ME).status_code == 200
    assert api.get("/api/v1/experiments/").status_code == 403
