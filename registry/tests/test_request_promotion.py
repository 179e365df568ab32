from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from registry.models import GatePolicy, ModelVersion, StageRequest
from registry.tests.conftest import UNDERFIT, promote


def run(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command("request_promotion", *args, stdout=out, **options)
    return out.getvalue()


def test_it_exits_zero_with_a_pending_request_when_the_gate_passes(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    registered()

    text = run("fraud_detector", "1", stage="production", user="erin", reason="ship it")

    request = StageRequest.objects.get()
    assert request.status == StageRequest.Status.PENDING
    assert f"request #{request.pk}" in text
    assert "Regression gate: PASSED" in text


def test_it_exits_three_when_the_gate_fails(
    lax_policy: GatePolicy,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    registered(name="weak", **UNDERFIT)
    promote(registered(name="strong"), experimenter, approver)
    out = StringIO()

    with pytest.raises(SystemExit) as caught:
        call_command(
            "request_promotion",
            "fraud_detector",
            "1",
            stage="production",
            user="erin",
            reason="try",
            json=True,
            stdout=out,
        )

    assert caught.value.code == 3
    payload = json.loads(out.getvalue())
    assert payload["gate_passed"] is False
    assert payload["status"] == "gate_failed"
    assert payload["gate_report"]["reasons"]


def test_it_names_an_unknown_version_and_writes_nothing(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    registered()

    with pytest.raises(CommandError, match="has no version 7"):
        run("fraud_detector", "7", stage="production", user="erin", reason="x")

    assert not StageRequest.objects.exists()


def test_it_refuses_a_user_without_the_role(
    registered: Callable[..., ModelVersion], viewer: User
) -> None:
    registered()

    with pytest.raises(CommandError, match="not allowed"):
        run("fraud_detector", "1", stage="production", user="vera", reason="x")

    assert not StageRequest.objects.exists()


def test_it_refuses_an_unknown_user(registered: Callable[..., ModelVersion]) -> None:
    registered()

    with pytest.raises(CommandError, match="does not exist"):
        run("fraud_detector", "1", stage="production", user="ghost", reason="x")


def test_it_says_there_is_no_model_of_that_name(experimenter: User) -> None:
    with pytest.raises(CommandError, match="no model named 'fraud_detectr'"):
        run("fraud_detectr", "2", stage="production", user="erin", reason="x")

    assert not StageRequest.objects.exists()


def test_it_answers_json_with_a_json_error_and_the_same_exit_code(experimenter: User) -> None:
    out = StringIO()

    with pytest.raises(SystemExit) as caught:
        call_command(
            "request_promotion",
            "nope",
            "1",
            stage="production",
            user="erin",
            reason="x",
            json=True,
            stdout=out,
        )

    assert caught.value.code == 1
    assert json.loads(out.getvalue()) == {"error": "no model named 'nope'"}


def test_it_lists_the_stages_by_name_when_one_is_unknown(db: None) -> None:
    with pytest.raises(
        CommandError, match="'prod' is not a stage; choose from staging, production, archived"
    ):
        run("fraud_detector", "1", stage="prod", user="erin", reason="x")


def test_it_refuses_a_second_open_request_on_a_version(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    version = registered()
    call_command(
        "request_promotion", "fraud_detector", str(version.version), stage="production",
        user="erin", reason="ship", stdout=StringIO(),
    )  # fmt: skip

    with pytest.raises(CommandError, match="already has an open request"):
        call_command(
            "request_promotion", "fraud_detector", str(version.version), stage="archived",
            user="erin", reason="old", stdout=StringIO(),
        )  # fmt: skip
    assert version.stage_requests.count() == 1
