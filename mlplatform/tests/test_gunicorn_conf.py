"""gunicorn.conf.py: the web process's settings, from the environment."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

CONF = Path(settings.BASE_DIR) / "gunicorn.conf.py"
VARIABLES = ("WEB_BIND", "WEB_WORKERS", "WEB_THREADS", "WEB_ACCESS_LOG", "DATABASE_CONN_MAX_AGE")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:  # set, then removed: undone, whatever the config file sets
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


def load() -> dict[str, Any]:
    return runpy.run_path(str(CONF))


def test_it_serves_threaded_workers_kept_alive_by_default(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    conf = load()

    assert (conf["bind"], conf["workers"], conf["threads"]) == ("127.0.0.1:8000", 2, 4)
    assert conf["worker_class"] == "gthread"
    assert conf["keepalive"] > 0
    assert conf["accesslog"] == "-"


def test_it_takes_its_values_from_the_environment(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("WEB_BIND", "0.0.0.0:9000")
    clean_environment.setenv("WEB_WORKERS", "5")
    clean_environment.setenv("WEB_THREADS", "8")
    clean_environment.setenv("WEB_ACCESS_LOG", "")

    conf = load()

    assert (conf["bind"], conf["workers"], conf["threads"]) == ("0.0.0.0:9000", 5, 8)
    assert conf["accesslog"] is None


def test_it_keeps_database_connections_unless_told_otherwise(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    import os

    load()
    assert os.environ["DATABASE_CONN_MAX_AGE"] == "60"

    clean_environment.setenv("DATABASE_CONN_MAX_AGE", "0")
    load()
    assert os.environ["DATABASE_CONN_MAX_AGE"] == "0"


def test_it_loads_every_view_as_a_worker_starts(clean_environment: pytest.MonkeyPatch) -> None:
    loaded = []

    class Resolver:
        @property
        def url_patterns(self) -> list[Any]:
            loaded.append(True)  # importing the URLconf imports every view
            return []

    clean_environment.setattr("django.urls.get_resolver", Resolver)

    load()["post_worker_init"](object())

    assert loaded == [True]
