"""`manage.py check --deploy` with production variables reports nothing."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

from django.conf import settings

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "DJANGO_ENV"}
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_passes_with_production_variables() -> None:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    key = "".join(secrets.choice(alphabet) for _ in range(50))
    result = run_check(DJANGO_ENV="production", SECRET_KEY=key, ALLOWED_HOSTS="example.com")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_refuses_production_without_a_secret_key() -> None:
    result = run_check(DJANGO_ENV="production", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set when DJANGO_ENV=production" in result.stderr


def test_it_warns_about_the_local_defaults() -> None:
    result = run_check()
    assert result.returncode != 0
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE is off locally


def test_it_refuses_the_published_local_key_in_production() -> None:
    result = run_check(
        DJANGO_ENV="production",
        SECRET_KEY="local-only-insecure-key-set-SECRET_KEY-in-production",
        ALLOWED_HOSTS="example.com",
    )
    assert result.returncode != 0
    assert "SECRET_KEY is the local key published with the project" in result.stderr


def test_it_refuses_a_short_key_in_production() -> None:
    result = run_check(DJANGO_ENV="production", SECRET_KEY="k" * 49, ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY has 49 characters; production needs at least 50" in result.stderr
