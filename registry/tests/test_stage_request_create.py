from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError

from registry.models import GateEvaluation, Stage, StageRequest
from registry.services import model_version_get, stage_request_create
from registry.tests.conftest import LAX_GATE, UNDERFIT, promote


def test_it_gates_a_request_to_production_and_leaves_it_pending(registered, experimenter):
    version = registered()

    request = stage_request_create(
        model_version=version, to_stage=Stage.PRODUCTION, user=experimenter, reason="ship it"
    )

    assert request.status == StageRequest.Status.PENDING
    assert request.from_stage == Stage.STAGING
    assert request.gate.purpose == GateEvaluation.Purpose.PROMOTION
    assert request.gate.passed
    version.refresh_from_db()
    assert version.stage == Stage.STAGING


def test_it_records_a_failed_gate_with_the_request(registered, experimenter, approver):
    weak = registered(name="weak", gate=LAX_GATE, **UNDERFIT)
    strong = promote(registered(name="strong"), experimenter, approver)

    request = stage_request_create(
        model_version=weak, to_stage=Stage.PRODUCTION, user=experimenter, reason="try"
    )

    assert request.status == StageRequest.Status.PENDING
    assert not request.gate.passed
    assert request.gate.baseline_version == strong
    assert request.gate.report["production"]["version"] == strong.version
    assert request.gate.report["reasons"]


def test_it_does_not_gate_staging_or_archiving(production_version, experimenter):
    request = stage_request_create(
        model_version=production_version,
        to_stage=Stage.ARCHIVED,
        user=experimenter,
        reason="retire",
    )

    assert request.gate is None
    assert request.from_stage == Stage.PRODUCTION


@pytest.mark.parametrize("persona", ["viewer", "approver", "outsider"])
def test_it_refuses_a_user_without_the_experimenter_role(registered, persona, request):
    version = registered()
    user = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied):
        stage_request_create(
            model_version=version, to_stage=Stage.PRODUCTION, user=user, reason="please"
        )

    assert not StageRequest.objects.exists()
    assert not GateEvaluation.objects.filter(purpose="promotion").exists()


def test_it_refuses_a_version_already_in_the_stage(registered, experimenter):
    version = registered()

    with pytest.raises(ValidationError, match="already in staging"):
        stage_request_create(
            model_version=version, to_stage=Stage.STAGING, user=experimenter, reason="again"
        )

    assert not StageRequest.objects.exists()


def test_it_requires_a_reason(registered, experimenter):
    version = registered()

    with pytest.raises(ValidationError, match="reason is required"):
        stage_request_create(
            model_version=version, to_stage=Stage.PRODUCTION, user=experimenter, reason="  "
        )

    assert not StageRequest.objects.exists()


def test_it_refuses_an_unknown_stage(registered, experimenter):
    with pytest.raises(ValidationError, match="cannot be requested"):
        stage_request_create(
            model_version=registered(), to_stage="none", user=experimenter, reason="x"
        )


def test_it_refuses_a_second_pending_request_to_the_same_stage(registered, experimenter):
    version = registered()
    stage_request_create(
        model_version=version, to_stage=Stage.PRODUCTION, user=experimenter, reason="one"
    )

    with pytest.raises(ValidationError, match="already has a pending request"):
        stage_request_create(
            model_version=version, to_stage=Stage.PRODUCTION, user=experimenter, reason="two"
        )

    assert StageRequest.objects.count() == 1


def test_it_refuses_an_artifact_whose_digest_no_longer_matches(registered, experimenter):
    version = registered()
    artifact = Path(settings.ARTIFACT_ROOT) / version.experiment.artifact_path
    artifact.write_bytes(artifact.read_bytes() + b"tampered")

    with pytest.raises(ValidationError, match="does not match its recorded SHA-256"):
        stage_request_create(
            model_version=version, to_stage=Stage.PRODUCTION, user=experimenter, reason="x"
        )

    assert not StageRequest.objects.exists()


def test_it_names_an_unknown_model_or_version(registered):
    registered()

    with pytest.raises(ValidationError, match="has no version 9"):
        model_version_get(model_name="fraud_detector", version=9)
    with pytest.raises(ValidationError, match="no model named 'nope'"):
        model_version_get(model_name="nope", version=1)
