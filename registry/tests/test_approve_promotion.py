from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from mlplatform.origin import Origin
from mlplatform.testing import make_user
from registry.models import ModelVersion, Stage, StageRequest, StageTransition
from registry.services import stage_request_create


def pending(version: ModelVersion, user: User) -> StageRequest:
    return stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=user,
        reason="ready",
    )


def test_it_approves_and_applies_the_request(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    version = registered()
    request = pending(version, experimenter)
    out = StringIO()

    call_command(
        "approve_promotion", str(request.pk), user="arthur", reason="ok", json=True, stdout=out
    )

    payload = json.loads(out.getvalue())
    assert (payload["status"], payload["to_stage"]) == ("approved", "production")
    assert payload["decided_by"] == "arthur"
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
    assert StageTransition.objects.filter(approved_by=approver, decision="approved").exists()


def test_it_rejects_with_a_reason(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    request = pending(registered(), experimenter)

    call_command(
        "approve_promotion",
        str(request.pk),
        user="arthur",
        reject=True,
        reason="not now",
        stdout=StringIO(),
    )

    request.refresh_from_db()
    assert request.status == StageRequest.Status.REJECTED
    assert request.decision_reason == "not now"


def test_it_refuses_self_approval(registered: Callable[..., ModelVersion]) -> None:
    both = make_user("bea", "experimenter", "approver")
    request = pending(registered(), both)

    with pytest.raises(CommandError, match="you requested this; another approver must decide"):
        call_command("approve_promotion", str(request.pk), user="bea", reason="mine")

    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING


def test_it_refuses_an_already_decided_request(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    request = pending(registered(), experimenter)
    call_command(
        "approve_promotion", str(request.pk), user="arthur", reason="ok", stdout=StringIO()
    )

    with pytest.raises(CommandError, match="already approved"):
        call_command("approve_promotion", str(request.pk), user="arthur", reject=True, reason="x")


def test_it_records_the_command_line_account_and_host(
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import pwd
    import socket

    request = pending(registered(), experimenter)
    monkeypatch.setenv("USER", "mallory")  # not who runs it: the uid says

    call_command(
        "approve_promotion", str(request.pk), user="arthur", reason="ok", stdout=StringIO()
    )

    entry = StageTransition.objects.get(request=request)
    assert (entry.channel, entry.os_user, entry.host) == (
        "cli",
        pwd.getpwuid(os.getuid()).pw_name,
        socket.gethostname(),
    )


def test_it_requires_a_reason(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    request = pending(registered(), experimenter)

    with pytest.raises(CommandError, match="--reason"):
        call_command("approve_promotion", str(request.pk), user="arthur", reject=True)
    with pytest.raises(CommandError, match="a reason is required"):
        call_command("approve_promotion", str(request.pk), user="arthur", reason="  ")

    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING


def test_it_answers_json_with_a_json_error_and_the_same_exit_code(approver: User) -> None:
    out = StringIO()

    with pytest.raises(SystemExit) as caught:
        call_command(
            "approve_promotion", "424242", user="arthur", reason="x", json=True, stdout=out
        )

    assert caught.value.code == 1
    assert json.loads(out.getvalue()) == {"error": "stage request #424242 does not exist"}
