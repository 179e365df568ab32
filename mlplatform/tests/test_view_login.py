from __future__ import annotations

from typing import Any

from django.test import Client


def test_it_shows_the_login_form(client: Client, db: Any) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_it_logs_in_and_goes_to_the_next_page(client: Client, viewer: Any) -> None:
    response = client.post(
        "/accounts/login/?next=/experiments/",
        {"username": "vera", "password": "pw-vera", "next": "/experiments/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/experiments/"
    assert client.get("/experiments/").status_code == 200


def test_it_refuses_a_wrong_password(client: Client, viewer: Any) -> None:
    response = client.post("/accounts/login/", {"username": "vera", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert client.get("/experiments/").status_code == 302


def test_it_refuses_an_outside_next_url(client: Client, viewer: Any) -> None:
    response = client.post(
        "/accounts/login/",
        {"username": "vera", "password": "pw-vera", "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_it_logs_out_on_post_only(client: Client, viewer: Any) -> None:
    client.force_login(viewer)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/experiments/").status_code == 302
