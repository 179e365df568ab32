"""One document per concept, the same in every channel: an experiment (and
its registration) and a stage request read the same from the API and from a
command's --json: the same keys, enums and numbers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command

from registry.models import ModelVersion


def command_json(*args: str, **options: Any) -> Any:
    out = StringIO()
    with contextlib.suppress(SystemExit):  # the exit code is another test's
        call_command(*args, json=True, stdout=out, stderr=StringIO(), **options)
    return json.loads(out.getvalue())


def test_an_experiment_reads_the_same_from_the_api_and_run_experiment(
    api_as: Callable[..., Any],
    make_config: Callable[..., str],
    production_version: ModelVersion,
    experimenter: User,
    tmp_path: Path,
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(make_config(name="documented"))

    from_command = command_json("run_experiment", config=str(config), user="erin")
    from_api = api_as(experimenter).get(f"/api/v1/experiments/{from_command['id']}/").json()

    assert from_command.pop("command_seconds") > 0
    assert from_command == from_api
    assert set(from_command["registration"]) == {
        "state", "message", "attempts", "max_attempts", "next_retry_at",
    }  # fmt: skip
    assert from_command["gate_report"]["passed"] in (True, False)


def test_a_registration_retried_by_hand_reads_the_same_too(
    api_as: Callable[..., Any], trained: Callable[..., Any], experimenter: User
) -> None:
    experiment = trained(name="again")

    from_command = command_json("register_experiment", str(experiment.pk), user="erin")
    from_api = api_as(experimenter).get(f"/api/v1/experiments/{experiment.pk}/").json()

    assert from_command == from_api


def test_a_stage_request_reads_the_same_from_the_api_and_the_commands(
    api_as: Callable[..., Any],
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    version = registered()

    requested = command_json(
        "request_promotion", "fraud_detector", str(version.version), stage="production",
        reason="ship", user="erin",
    )  # fmt: skip
    from_api = api_as(experimenter).get(f"/api/v1/stage-requests/{requested['id']}/").json()
    approved = command_json("approve_promotion", str(requested["id"]), reason="ok", user="arthur")
    approved_api = api_as(approver).get(f"/api/v1/stage-requests/{requested['id']}/").json()

    assert requested == from_api
    assert approved == approved_api
    assert approved["status"] == "approved"
