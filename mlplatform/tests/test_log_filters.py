from __future__ import annotations

import logging
import sys

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mlplatform.log_filters import PermissionDeniedWithoutTraceback


def test_it_logs_a_refused_permission_in_one_line_without_a_traceback(
    client: Client, outsider: User, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(outsider)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/experiments/").status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /experiments/"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_it_keeps_the_traceback_of_a_server_error() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, "", 0, "x", (), sys.exc_info())
    record.status_code = 500
    assert PermissionDeniedWithoutTraceback().filter(record)
    assert record.exc_info is not None


def test_it_tells_a_user_without_a_role_how_to_get_one(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    content = client.get("/experiments/").content.decode()
    assert "You have no role yet. Ask an administrator" in content
