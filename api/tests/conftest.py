"""API test helpers: tokens for the personas, a client that sends them, and
the registry fixtures (a trained, registered and promoted model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from api.services import api_token_create
from mlplatform.testing import make_user
from registry.tests.conftest import (  # noqa: F401 - fixtures shared with the registry's tests
    lax_policy,
    policy_admin,
    production_version,
    registered,
    set_policy,
    trained,
)


class ApiClient:
    """Django's test client with an API token on every request."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **query: Any) -> Any:
        return self.client.get(path, query, headers=self.headers)

    def post(self, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        """JSON by default (a dict or list is encoded; str or bytes go as they are);
        pass django.test.client.MULTIPART_CONTENT for a form with files."""
        return self.client.post(path, body, content_type=content_type, headers=self.headers)


@pytest.fixture
def token_of() -> Callable[[User], str]:
    def issue(user: User) -> str:
        return api_token_create(user=user, name="pytest").secret

    return issue


@pytest.fixture
def api_as(client: Client, token_of: Callable[[User], str]) -> Callable[[User | None], ApiClient]:
    """api_as(user) sends that user's token; api_as(None) sends none."""

    def as_user(user: User | None) -> ApiClient:
        return ApiClient(client, token_of(user) if user is not None else None)

    return as_user


@pytest.fixture
def superviewer(db: Any) -> User:
    """Every role at once, for tests about the API rather than permissions."""
    return make_user("sam", "viewer", "experimenter", "approver")


@pytest.fixture(autouse=True)
def queue_unreachable(settings: Settings) -> None:
    """Submissions are recorded and not queued: nothing listens on port 1, so
    no test puts jobs on a Redis that others use."""
    settings.RQ_QUEUES = {
        "training": {**settings.RQ_QUEUES["training"], "URL": "redis://127.0.0.1:1/0"}
    }
