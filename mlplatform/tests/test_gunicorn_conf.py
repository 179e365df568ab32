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


def test_it_trusts_no_scheme_header_unless_told(clean_environment: pytest.MonkeyPatch) -> None:
    assert load()["secure_scheme_headers"] == {}
    clean_environment.setenv("SECURE_PROXY_SSL_HEADER_TRUSTED", "1")
    assert load()["secure_scheme_headers"] == {"X-FORWARDED-PROTO": "https"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_client_claiming_https_is_still_redirected_to_https(tmp_path: Path) -> None:
    """gunicorn as shipped, DJANGO_ENV=production, no proxy trusted: a client
    that sends the scheme headers itself gets the https redirect."""
    import os
    import subprocess
    import sys

    import httpx

    from experiments.tests.rq_helpers import database_url, wait_for
    from mlplatform.redis_server import free_port

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 20 + "-a-long-random-test-key-" + "y" * 20,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "1",
        "SECURE_PROXY_SSL_HEADER_TRUSTED": "",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", str(CONF), "mlplatform.wsgi"],
        cwd=str(CONF.parent), env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/accounts/login/"
    try:

        def answering() -> httpx.Response | None:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                return httpx.get(url, timeout=2)
            except httpx.HTTPError:
                return None

        assert wait_for(answering, timeout=60, what="gunicorn").status_code == 301
        for header, value in (
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Ssl", "on"),
            ("X-Forwarded-Protocol", "ssl"),
        ):
            answer = httpx.get(url, headers={header: value}, timeout=10)
            assert answer.status_code == 301, header
            assert answer.headers["location"].startswith("https://")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
