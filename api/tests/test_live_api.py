"""The API over real HTTP: a live server thread and an httpx client (one
keep-alive connection per client), as a script or a browser would call it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from django.contrib.auth.models import User

from api.services import api_token_create, api_token_revoke
from mlplatform.testing import config_yaml, make_user
from registry.models import ModelVersion
from registry.tests.conftest import promote

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTION = "/api/v1/models/fraud_detector/stages/production/predict"
Connect = Callable[..., httpx.Client]


@pytest.fixture
def connect(live_server: Any) -> Iterator[Connect]:
    """connect(token) -> a client sending that token (none for None)."""
    opened: list[httpx.Client] = []

    def open_client(token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=live_server.url, headers=headers, timeout=60)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def token(user: User) -> str:
    return api_token_create(user=user, name="live").secret


@pytest.fixture
def records(small_fraud_csv: Path, production_version: ModelVersion) -> list[dict[str, Any]]:
    frame = pd.read_csv(small_fraud_csv).head(3)
    rows = frame[production_version.experiment.feature_columns].to_dict(orient="records")
    return [{str(name): value for name, value in row.items()} for row in rows]


def test_it_gives_each_persona_its_answers_over_http(
    connect: Connect,
    production_version: ModelVersion,
    registered_dataset: Any,
    records: list[dict[str, Any]],
    viewer: User,
    experimenter: User,
    approver: User,
    outsider: User,
) -> None:
    revoked = api_token_create(user=experimenter, name="old")
    api_token_revoke(token_id=revoked.token.pk)
    callers = {
        "viewer": connect(token(viewer)),
        "experimenter": connect(token(experimenter)),
        "approver": connect(token(approver)),
        "outsider": connect(token(outsider)),
        "anonymous": connect(None),
        "revoked": connect(revoked.secret),
    }
    config = {"config": config_yaml(dataset=registered_dataset, name="live")}
    calls: dict[str, Callable[[httpx.Client], httpx.Response]] = {
        "read experiments": lambda c: c.get("/api/v1/experiments/"),
        "submit": lambda c: c.post("/api/v1/experiments/", json=config),
        "read requests": lambda c: c.get("/api/v1/stage-requests/?status=pending"),
        "predict": lambda c: c.post(PRODUCTION, json={"records": records}),
    }
    expected = {
        "viewer": {"read experiments": 200, "submit": 403, "read requests": 200, "predict": 200},
        "experimenter": {"read experiments": 200, "submit": 201, "read requests": 200,
                         "predict": 200},
        "approver": {"read experiments": 200, "submit": 403, "read requests": 200, "predict": 200},
        "outsider": dict.fromkeys(calls, 403),
        "anonymous": dict.fromkeys(calls, 401),
        "revoked": dict.fromkeys(calls, 401),
    }  # fmt: skip

    answered = {
        persona: {name: call(client).status_code for name, call in calls.items()}
        for persona, client in callers.items()
    }

    assert answered == expected
    for client in callers.values():  # errors are JSON, never a redirect to the login page
        response = client.get("/api/v1/experiments/")
        assert response.headers["content-type"].startswith("application/json")


def test_it_records_a_submission_while_the_queue_is_down(
    connect: Connect, registered_dataset: Any, experimenter: User
) -> None:
    client = connect(token(experimenter))

    response = client.post(
        "/api/v1/experiments/", json={"config": config_yaml(dataset=registered_dataset)}
    )

    body = response.json()
    assert response.status_code == 201
    assert (body["status"], body["enqueued"]) == ("created", False)
    assert body["message"].endswith("will run when the queue is back.")
    assert client.get(f"/api/v1/experiments/{body['id']}/").json()["status"] == "created"


def test_it_takes_the_browser_session_with_its_csrf_token(
    connect: Connect, registered_dataset: Any, experimenter: User
) -> None:
    browser = connect(None)
    browser.get("/accounts/login/")
    browser.post(
        "/accounts/login/",
        data={"username": "erin", "password": "pw-erin"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"]},
    )
    config = {"config": config_yaml(dataset=registered_dataset)}

    without = browser.post("/api/v1/experiments/", json=config)
    with_token = browser.post(
        "/api/v1/experiments/", json=config, headers={"X-CSRFToken": browser.cookies["csrftoken"]}
    )

    assert browser.get("/api/v1/me/").json()["username"] == "erin"
    assert (without.status_code, without.json()["error"]["code"]) == (403, "csrf_failed")
    assert with_token.status_code == 201


def test_it_serves_a_promotion_without_a_restart(
    connect: Connect,
    records: list[dict[str, Any]],
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    client = connect(token(make_user("script", "viewer")))
    before = client.post(PRODUCTION, json={"records": records}).json()
    promote(registered(name="second"), experimenter, approver)

    after = client.post(PRODUCTION, json={"records": records}).json()

    assert (before["version"], after["version"]) == (1, 2)
    assert len(after["predictions"]) == 3
