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
