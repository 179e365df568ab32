"""The command line as a shell runs it: real argv, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args], capture_output=True, text=True, timeout=120
    )


def test_it_names_the_stages_plainly_when_one_is_unknown() -> None:
    done = manage("request_promotion", "m", "1", "--stage", "prod", "--user", "u", "--reason", "r")
    assert done.returncode == 2
    assert "'prod' is not a stage; choose from staging, production, archived" in done.stderr
    assert "Stage." not in done.stderr
    assert "--stage {staging,production,archived}" in done.stderr


def test_it_reports_bad_arguments_as_json_with_json() -> None:
    done = manage("approve_promotion", "not-a-number", "--user", "u", "--json")
    assert done.returncode == 2
    error = json.loads(done.stdout)["error"]
    assert error == "argument request_id: invalid int value: 'not-a-number'"
    assert done.stderr == ""
