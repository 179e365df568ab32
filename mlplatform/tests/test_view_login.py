from __future__ import annotations

from io import StringIO
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from pytest_django.fixtures import Settings


def test_it_shows_the_login_form(client: Client, db: None) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_it_logs_in_and_goes_to_the_next_page(client: Client, viewer: User) -> None:
    response = client.post(
        "/accounts/login/?next=/experiments/",
        {"username": "vera", "password": "pw-vera", "next": "/experiments/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/experiments/"
    assert client.get("/experiments/").status_code == 200


def test_it_refuses_a_wrong_password(client: Client, viewer: User) -> None:
    response = client.post("/accounts/login/", {"username": "vera", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert client.get("/experiments/").status_code == 302


def test_it_refuses_an_outside_next_url(client: Client, viewer: User) -> None:
    response = client.post(
        "/accounts/login/",
        {"username": "vera", "password": "pw-vera", "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_it_logs_out_on_post_only(client: Client, viewer: User) -> None:
    client.force_login(viewer)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/experiments/").status_code == 302


# Login throttling (django-axes) ------------------------------------------------


def fail_logins(client: Client, username: str, times: int, address: str = "10.0.0.1") -> Any:
    """`times` wrong passwords; the last one's response (the limit-th locks out)."""
    for attempt in range(1, times + 1):
        response = client.post(
            "/accounts/login/", {"username": username, "password": "wrong"}, REMOTE_ADDR=address
        )
        if attempt < times:
            assert response.status_code == 200, f"locked out after {attempt} failures"
    return response


def log_in(client: Client, address: str = "10.0.0.1") -> Any:
    return client.post(
        "/accounts/login/", {"username": "vera", "password": "pw-vera"}, REMOTE_ADDR=address
    )


def test_it_locks_out_a_user_and_address_after_the_failure_limit(
    client: Client, viewer: User, settings: Settings
) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert fail_logins(client, "vera", 4).status_code == 200
    assert fail_logins(client, "vera", 1).status_code == 429  # the fifth failure locks

    response = log_in(client)  # the right password, too late

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins: this user name is locked out from your address" in page
    assert "for 15 minutes; an administrator can unlock it sooner" in page
    assert 'value="vera"' in page
    assert client.get("/experiments/").status_code == 302  # not logged in


def test_it_lets_the_same_user_in_from_another_address(client: Client, viewer: User) -> None:
    fail_logins(client, "vera", 5)

    assert log_in(client, address="10.0.0.2").status_code == 302


def test_it_lets_another_user_in_from_the_same_address(client: Client, viewer: User) -> None:
    fail_logins(client, "someone_else", 5)

    assert log_in(client).status_code == 302


def test_it_forgets_failures_after_a_successful_login(client: Client, viewer: User) -> None:
    fail_logins(client, "vera", 4)
    assert log_in(client).status_code == 302
    client.post("/accounts/logout/")

    fail_logins(client, "vera", 4)
    assert log_in(client).status_code == 302


def test_it_takes_the_failure_limit_from_settings(
    client: Client, viewer: User, settings: Settings
) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    assert fail_logins(client, "vera", 2).status_code == 429

    assert log_in(client).status_code == 429


def test_it_unlocks_with_the_reset_command(client: Client, viewer: User) -> None:
    fail_logins(client, "vera", 5)
    assert log_in(client).status_code == 429

    out = StringIO()
    call_command("axes_reset_username", "vera", stdout=out)

    assert "attempts removed" in out.getvalue()
    assert log_in(client).status_code == 302


def test_it_says_when_only_an_administrator_can_unlock(
    client: Client, viewer: User, settings: Settings
) -> None:
    settings.AXES_COOLOFF_TIME = None
    fail_logins(client, "vera", 5)

    response = log_in(client)

    assert response.status_code == 429
    assert "locked out from your address until an administrator unlocks it" in (
        response.content.decode()
    )
