"""Secrets from files (settings.env_secret): SECRET_KEY, DATABASE_URL and
REDIS_URL may each come from the file that <NAME>_FILE names, as container
platforms mount them. Each test starts a real Python process with the
variables set and reads the settings it ends up with, or its start-up error."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"
SECRET_NAMES = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")
# What the child prints: the settings each secret ends up in.
READ_SETTINGS = """
import json
from django.conf import settings
database = settings.DATABASES["default"]
print(json.dumps({
    "SECRET_KEY": settings.SECRET_KEY,
    "DATABASE_URL": [database["ENGINE"], database["HOST"], database["NAME"], database["PASSWORD"]],
    "REDIS_URL": [settings.REDIS_URL, settings.RQ_QUEUES["training"]["URL"]],
}))
"""
DATABASE_URL = "postgres://mlplatform:db-pässword@db.internal:5432/registry"
REDIS_URL = "redis://:queue-password@redis.internal:6379/2"


def environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """This process's environment without any secret, plus `variables`."""
    names = {*SECRET_NAMES, *(f"{name}_FILE" for name in SECRET_NAMES)}
    env = {key: value for key, value in os.environ.items() if key not in names}
    env.update(DJANGO_SETTINGS_MODULE="mlplatform.settings", VAR_DIR=str(tmp_path / "var"))
    env.update(variables)
    return env


def start(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        env=environment(tmp_path, **variables),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def read_settings(tmp_path: Path, **variables: str) -> dict[str, Any]:
    result = start(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout)
    return values


def secret_file(tmp_path: Path, text: str, name: str = "secret") -> Path:
    path = tmp_path / "run" / "secrets" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_it_reads_the_secret_key_from_its_file(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(40)
    path = secret_file(tmp_path, key + "\n")

    values = read_settings(tmp_path, SECRET_KEY_FILE=str(path))

    assert values["SECRET_KEY"] == key


def test_it_reads_the_database_url_from_its_file(tmp_path: Path) -> None:
    path = secret_file(tmp_path, DATABASE_URL + "\n")

    values = read_settings(tmp_path, DATABASE_URL_FILE=str(path))

    assert values["DATABASE_URL"] == [
        "django.db.backends.postgresql",
        "db.internal",
        "registry",
        "db-pässword",
    ]


def test_it_reads_the_redis_url_from_its_file(tmp_path: Path) -> None:
    path = secret_file(tmp_path, REDIS_URL + "\n")

    values = read_settings(tmp_path, REDIS_URL_FILE=str(path))

    assert values["REDIS_URL"] == [REDIS_URL, REDIS_URL]


def test_it_keeps_the_plain_variables_and_defaults_without_files(tmp_path: Path) -> None:
    values = read_settings(tmp_path, SECRET_KEY="plain-key", REDIS_URL=REDIS_URL)

    assert values["SECRET_KEY"] == "plain-key"
    assert values["REDIS_URL"] == [REDIS_URL, REDIS_URL]
    assert values["DATABASE_URL"][:2] == ["django.db.backends.sqlite3", ""]


def test_it_strips_only_the_trailing_newline(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "  spaced key \r\n")

    values = read_settings(tmp_path, SECRET_KEY_FILE=str(path))

    assert values["SECRET_KEY"] == "  spaced key "


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_it_refuses_a_secret_given_both_ways_without_showing_it(tmp_path: Path, name: str) -> None:
    path = secret_file(tmp_path, "from-the-file\n")

    result = start(tmp_path, **{name: "from-the-variable", f"{name}_FILE": str(path)})

    assert result.returncode != 0
    assert f"{name} and {name}_FILE are both set; set only one of them" in result.stderr
    assert "from-the-file" not in result.stderr
    assert "from-the-variable" not in result.stderr


def test_it_refuses_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "run" / "secrets" / "nothing-here"

    result = start(tmp_path, DATABASE_URL_FILE=str(missing))

    assert result.returncode != 0
    message = f"DATABASE_URL_FILE={missing}: cannot read it (No such file or directory)"
    assert message in result.stderr


def test_it_refuses_a_file_it_cannot_read(tmp_path: Path) -> None:
    # A directory: unreadable as a file for root too (file permissions are not).
    directory = tmp_path / "run" / "secrets"
    directory.mkdir(parents=True)

    result = start(tmp_path, REDIS_URL_FILE=str(directory))

    assert result.returncode != 0
    assert f"REDIS_URL_FILE={directory}: cannot read it (Is a directory)" in result.stderr


def test_it_refuses_an_empty_file(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "\n")

    result = start(tmp_path, SECRET_KEY_FILE=str(path))

    assert result.returncode != 0
    assert f"SECRET_KEY_FILE={path}: the file is empty" in result.stderr


def test_it_refuses_to_start_a_command_with_both(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "from-the-file\n")

    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "check"],
        env=environment(tmp_path, SECRET_KEY="from-the-variable", SECRET_KEY_FILE=str(path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY and SECRET_KEY_FILE are both set" in result.stderr


def test_it_passes_the_deploy_check_with_the_secret_key_from_a_file(tmp_path: Path) -> None:
    path = secret_file(tmp_path, secrets.token_urlsafe(50) + "\n")
    env = environment(
        tmp_path, DJANGO_ENV="production", ALLOWED_HOSTS="example.com", SECRET_KEY_FILE=str(path)
    )
    env.pop("DEBUG", None)

    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
