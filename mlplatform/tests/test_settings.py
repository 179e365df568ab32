"""Settings read from the environment: what a deployment trusts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.test import RequestFactory

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"
SHOW_PROXY_HEADER = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"


def setting_in_a_fresh_process(**env: str) -> str:
    environment = {
        key: value for key, value in os.environ.items() if key != "SECURE_PROXY_SSL_HEADER_TRUSTED"
    }
    environment.update(env)
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "shell", "-c", SHOW_PROXY_HEADER],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_it_ignores_x_forwarded_proto_unless_told_a_proxy_sets_it() -> None:
    assert setting_in_a_fresh_process() == "None"
    assert setting_in_a_fresh_process(DJANGO_ENV="production", SECRET_KEY="x" * 50) == "None"


def test_it_trusts_x_forwarded_proto_when_told_a_proxy_sets_it() -> None:
    assert setting_in_a_fresh_process(SECURE_PROXY_SSL_HEADER_TRUSTED="1") == (
        "('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def test_it_does_not_take_a_clients_word_for_https() -> None:
    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")
    assert not request.is_secure()


def test_it_refuses_a_negative_thread_budget_by_name() -> None:
    # A negative TRAINING_THREADS used to mean "automatic" without a word.
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "check"],
        env={**os.environ, "TRAINING_THREADS": "-2"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "TRAINING_THREADS='-2' is below its minimum, 0" in result.stderr
