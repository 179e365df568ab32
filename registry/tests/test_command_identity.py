"""Governance commands act as the user of a personal API token
(MLPLATFORM_TOKEN or --token-file), checked as the API checks it; --user is
a local convenience, refused in production; the OS account recorded is the
real uid's, never $USER's."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from api.services import api_token_create, api_token_revoke
from mlplatform.testing import make_user
from registry.models import ModelVersion, StageRequest, StageTransition

ACCOUNT = pwd.getpwuid(os.getuid()).pw_name


def token(user: User) -> str:
    return api_token_create(user=user, name="cli").secret


def run(*args: str, as_token: str | None = None, **options: Any) -> dict[str, Any]:
    """The command's --json answer; a refusal raises CommandError."""
    out = StringIO()
    previous = os.environ.pop("MLPLATFORM_TOKEN", None)
    if as_token is not None:
        os.environ["MLPLATFORM_TOKEN"] = as_token
    try:
        call_command(*args, stdout=out, stderr=StringIO(), **options)
    finally:
        os.environ.pop("MLPLATFORM_TOKEN", None)
        if previous is not None:
            os.environ["MLPLATFORM_TOKEN"] = previous
    text = out.getvalue()
    answer: dict[str, Any] = json.loads(text) if text.startswith("{") else {}
    return answer


@pytest.fixture
def production(settings: Settings) -> Settings:
    settings.PRODUCTION = True
    return settings


def test_one_os_account_with_two_tokens_records_both_users_and_the_account(
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
    production: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = registered()
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")

    asked = run(
        "request_promotion", version.registered_model.name, str(version.version),
        stage="production", reason="ship", as_token=token(experimenter), json=True,
    )  # fmt: skip
    run("approve_promotion", str(asked["id"]), reason="ok", as_token=token(approver))

    request = StageRequest.objects.get(pk=asked["id"])
    assert (request.requested_by, request.decided_by) == (experimenter, approver)
    assert request.os_user == ACCOUNT
    approval = StageTransition.objects.get(request=request, decision="approved")
    assert (approval.requested_by, approval.approved_by, approval.os_user) == (
        experimenter,
        approver,
        ACCOUNT,
    )


def test_one_token_cannot_approve_its_own_request(
    registered: Callable[..., ModelVersion], production: Settings
) -> None:
    both = make_user("bob", "experimenter", "approver")
    secret = token(both)
    version = registered()
    asked = run(
        "request_promotion", version.registered_model.name, str(version.version),
        stage="production", reason="ship", as_token=secret, json=True,
    )  # fmt: skip

    with pytest.raises(CommandError, match="another approver must decide"):
        run("approve_promotion", str(asked["id"]), reason="ok", as_token=secret)


def test_it_refuses_user_in_production_naming_the_token(
    registered: Callable[..., ModelVersion], experimenter: User, production: Settings
) -> None:
    version = registered()

    for command in (
        ("request_promotion", version.registered_model.name, str(version.version)),
        ("gate_policy", version.registered_model.name),
    ):
        options = {"stage": "production"} if command[0] == "request_promotion" else {}
        if command[0] == "gate_policy":
            options = {"policy_file": "x.yaml"}
        with pytest.raises(CommandError, match="MLPLATFORM_TOKEN"):
            run(*command, user="erin", reason="x", **options)
    with pytest.raises(CommandError, match="--user is refused with DJANGO_ENV=production"):
        run("register_experiment", str(version.experiment_id), user="erin")
    assert not StageRequest.objects.exists()


def test_it_asks_who_acts_when_nothing_says(registered: Callable[..., ModelVersion]) -> None:
    version = registered()

    with pytest.raises(CommandError, match="set MLPLATFORM_TOKEN to your personal API token"):
        run("approve_promotion", "1", reason="ok")
    assert not StageRequest.objects.exists()
    del version


def test_it_refuses_a_revoked_or_unknown_token(
    registered: Callable[..., ModelVersion], experimenter: User, production: Settings
) -> None:
    version = registered()
    revoked = api_token_create(user=experimenter, name="old")
    api_token_revoke(token_id=revoked.token.pk)

    for secret in (revoked.secret, "mlp_" + "x" * 40, "not-a-token"):
        with pytest.raises(CommandError, match="the API token is not valid"):
            run(
                "request_promotion", version.registered_model.name, str(version.version),
                stage="staging", reason="x", as_token=secret,
            )  # fmt: skip
    assert not StageRequest.objects.exists()


def test_it_reads_the_token_from_a_file(
    registered: Callable[..., ModelVersion], experimenter: User, tmp_path: Path
) -> None:
    version = registered()
    token_file = tmp_path / "token"
    token_file.write_text(token(experimenter) + "\n")

    asked = run(
        "request_promotion", version.registered_model.name, str(version.version),
        stage="archived", reason="old", token_file=token_file, json=True,
    )  # fmt: skip

    assert StageRequest.objects.get(pk=asked["id"]).requested_by == experimenter


def test_only_a_superuser_creates_a_token_for_another_user_in_production(
    experimenter: User, approver: User, production: Settings
) -> None:
    admin = User.objects.create_superuser("root", password="pw-root")

    with pytest.raises(CommandError, match="set MLPLATFORM_TOKEN"):
        run("api_token", "create", "erin", name="x")
    with pytest.raises(CommandError, match="may create only their own tokens"):
        run("api_token", "create", "erin", name="x", as_token=token(approver))
    mine = run("api_token", "create", "arthur", name="mine", as_token=token(approver), json=True)
    theirs = run("api_token", "create", "erin", name="ci", as_token=token(admin), json=True)

    assert (mine["user"], theirs["user"]) == ("arthur", "erin")
