"""Approval re-verifies what the gate relied on: a candidate artifact changed
after gating is refused, and only the refusal is recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from mlplatform.origin import Origin
from registry.models import ModelVersion, Stage, StageRequest, StageTransition
from registry.services import ApprovalRefused, stage_request_create, stage_request_decide


@pytest.fixture
def tampered(registered: Callable[..., ModelVersion], experimenter: User) -> StageRequest:
    request = stage_request_create(
        model_version=registered(),
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="ship",
        origin=Origin.cli(),
    )
    path = Path(settings.ARTIFACT_ROOT) / request.model_version.experiment.artifact_path
    with path.open("ab") as handle:
        handle.write(b"X")  # printf X >> .../model.skops
    return request


def test_it_refuses_to_approve_a_candidate_changed_after_gating(
    tampered: StageRequest, approver: User
) -> None:
    with pytest.raises(ApprovalRefused, match="artifact changed since it was gated"):
        stage_request_decide(
            request_id=tampered.pk, user=approver, approve=True, reason="ok", origin=Origin.cli()
        )

    tampered.refresh_from_db()
    version = ModelVersion.objects.get(pk=tampered.model_version_id)
    assert tampered.status == StageRequest.Status.PENDING
    assert version.stage == Stage.STAGING
    refusal = StageTransition.objects.get(request=tampered)
    assert refusal.decision == StageTransition.Decision.REFUSED
    assert refusal.approved_by == approver
    assert "does not match its recorded SHA-256" in refusal.reason
    assert not ModelVersion.objects.filter(stage=Stage.PRODUCTION).exists()


def test_it_still_lets_such_a_request_be_rejected(tampered: StageRequest, approver: User) -> None:
    decided = stage_request_decide(
        request_id=tampered.pk, user=approver, approve=False, reason="bad", origin=Origin.cli()
    )

    assert decided.status == StageRequest.Status.REJECTED


def test_it_answers_409_on_the_page(client: Client, tampered: StageRequest, approver: User) -> None:
    client.force_login(approver)

    response = client.post(
        f"/registry/requests/{tampered.pk}/decide/", {"decision": "approve", "reason": "ok"}
    )

    assert response.status_code == 409
    assert "cannot be approved" in response.content.decode()
    tampered.refresh_from_db()
    assert tampered.status == StageRequest.Status.PENDING


def test_it_refuses_a_candidate_swapped_between_the_check_and_the_commit(
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An adversary who can write the artifact store swaps the file in the
    moment after approval's first check passed: the decision hashes the
    bytes again with the model locked, and production is left as it was."""
    from registry.services import stage_requests

    request = stage_request_create(
        model_version=registered(),
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="ship",
        origin=Origin.cli(),
    )
    path = Path(settings.ARTIFACT_ROOT) / request.model_version.experiment.artifact_path
    first_check = stage_requests._reverify_or_refuse

    def check_then_swap(*args: object) -> None:
        first_check(*args)  # type: ignore[arg-type]  # the real check passes
        path.write_bytes(path.read_bytes() + b"swapped")

    monkeypatch.setattr(stage_requests, "_reverify_or_refuse", check_then_swap)

    with pytest.raises(ApprovalRefused, match="changed while the approval was being recorded"):
        stage_request_decide(
            request_id=request.pk, user=approver, approve=True, reason="ok", origin=Origin.cli()
        )

    request.refresh_from_db()
    assert request.status == StageRequest.Status.PENDING
    assert not ModelVersion.objects.filter(stage=Stage.PRODUCTION).exists()
    refusal = StageTransition.objects.get(request=request)
    assert refusal.decision == StageTransition.Decision.REFUSED
