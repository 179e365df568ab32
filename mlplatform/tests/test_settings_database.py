from __future__ import annotations

import pytest

from mlplatform.settings import database_config


def test_it_opens_a_connection_per_request_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)

    config = database_config("postgres://user@db:5432/mlplatform")

    assert config["CONN_MAX_AGE"] == 0
    assert config["CONN_HEALTH_CHECKS"] is True


def test_it_keeps_connections_as_long_as_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "60")

    assert database_config("postgres://user@db:5432/mlplatform")["CONN_MAX_AGE"] == 60
