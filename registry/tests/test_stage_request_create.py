from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from mlplatform.origin import Origin
from registry.models import GateEvaluation, GatePolicy, ModelVersion, Stage, StageRequest
from registry.services import model_version_get, stage_request_create
from registry.tests.conftest import UNDERFIT, promote


def test_it_gates_a_request_to_production_and_leaves_it_pending(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    version = registered()

    request = stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="ship it",
    )

    assert request.status == StageRequest.Status.PENDING
    assert request.from_stage == Stage.STAGING
    assert request.gate is not None
    assert request.gate.purpose == GateEvaluation.Purpose.PROMOTION
    assert request.gate.passed
    version.refresh_from_db()
    assert version.stage == Stage.STAGING


def test_it_records_a_failed_gate_with_the_request(
    lax_policy: GatePolicy,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
) -> None:
    weak = registered(name="weak", **UNDERFIT)
    strong = promote(registered(name="strong"), experimenter, approver)

    request = stage_request_create(
        origin=Origin.cli(),
        model_version=weak,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="try",
    )

    assert request.status == StageRequest.Status.GATE_FAILED
    assert request.gate is not None
    assert not request.gate.passed
    assert request.gate.baseline_version == strong
    assert request.gate.report["production"]["version"] == strong.version
    assert request.gate.report["reasons"]


def test_it_does_not_gate_staging_or_archiving(
    production_version: ModelVersion, experimenter: User
) -> None:
    request = stage_request_create(
        origin=Origin.cli(),
        model_version=production_version,
        to_stage=Stage.ARCHIVED,
        user=experimenter,
        reason="retire",
    )

    assert request.gate is None
    assert request.from_stage == Stage.PRODUCTION


@pytest.mark.parametrize("persona", ["viewer", "approver", "outsider"])
def test_it_refuses_a_user_without_the_experimenter_role(
    registered: Callable[..., ModelVersion], persona: str, request: pytest.FixtureRequest
) -> None:
    version = registered()
    user = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied):
        stage_request_create(
            origin=Origin.cli(),
            model_version=version,
            to_stage=Stage.PRODUCTION,
            user=user,
            reason="please",
        )

    assert not StageRequest.objects.exists()
    assert not GateEvaluation.objects.filter(purpose="promotion").exists()


def test_it_refuses_a_version_already_in_the_stage(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    version = registered()

    with pytest.raises(ValidationError, match="already in staging"):
        stage_request_create(
            origin=Origin.cli(),
            model_version=version,
            to_stage=Stage.STAGING,
            user=experimenter,
            reason="again",
        )

    assert not StageRequest.objects.exists()


def test_it_requires_a_reason(registered: Callable[..., ModelVersion], experimenter: User) -> None:
    version = registered()

    with pytest.raises(ValidationError, match="reason is required"):
        stage_request_create(
            origin=Origin.cli(),
            model_version=version,
            to_stage=Stage.PRODUCTION,
            user=experimenter,
            reason="  ",
        )

    assert not StageRequest.objects.exists()


def test_it_refuses_an_unknown_stage(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    with pytest.raises(ValidationError, match="cannot be requested"):
        stage_request_create(
            origin=Origin.cli(),
            model_version=registered(),
            to_stage="none",
            user=experimenter,
            reason="x",
        )


@pytest.mark.parametrize("second_stage", [Stage.PRODUCTION, Stage.ARCHIVED])
def test_it_refuses_a_second_open_request_whatever_its_stage(
    registered: Callable[..., ModelVersion], experimenter: User, second_stage: str
) -> None:
    version = registered()
    stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="one",
    )

    with pytest.raises(ValidationError, match=r"already has an open request \(#\d+, to production"):
        stage_request_create(
            origin=Origin.cli(),
            model_version=version,
            to_stage=second_stage,
            user=experimenter,
            reason="two",
        )
    assert version.stage_requests.count() == 1

    assert StageRequest.objects.count() == 1


def test_it_refuses_an_artifact_whose_digest_no_longer_matches(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    version = registered()
    artifact = Path(settings.ARTIFACT_ROOT) / version.experiment.artifact_path
    artifact.write_bytes(artifact.read_bytes() + b"tampered")

    with pytest.raises(ValidationError, match="does not match its recorded SHA-256"):
        stage_request_create(
            origin=Origin.cli(),
            model_version=version,
            to_stage=Stage.PRODUCTION,
            user=experimenter,
            reason="x",
        )

    assert not StageRequest.objects.exists()


def test_it_names_an_unknown_model_or_version(registered: Callable[..., ModelVersion]) -> None:
    registered()

    with pytest.raises(ModelVersion.DoesNotExist, match="has no version 9"):
        model_version_get(model_name="fraud_detector", version=9)
    with pytest.raises(ModelVersion.DoesNotExist, match="no model named 'nope'"):
        model_version_get(model_name="nope", version=1)


def unsafe_artifact(version: ModelVersion) -> None:
    """Replace the version's artifact by a valid skops file holding a type the
    engine never produces, with digests that match (only the loader refuses it)."""
    import fractions
    import hashlib

    import skops.io
    from django.conf import settings

    from experiments.models import Experiment

    data = skops.io.dumps({"model": fractions.Fraction(1, 3)})
    path = Path(settings.ARTIFACT_ROOT) / version.experiment.artifact_path
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    Experiment.objects.filter(pk=version.experiment_id).update(artifact_sha256=digest)
    ModelVersion.objects.filter(pk=version.pk).update(artifact_sha256=digest)


def test_it_refuses_an_unloadable_candidate_with_a_clear_error(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    version = registered()
    unsafe_artifact(version)
    version = model_version_get(model_name="fraud_detector", version=1)

    with pytest.raises(ValidationError, match=r"cannot be requested: .*fractions\.Fraction"):
        stage_request_create(
            origin=Origin.cli(),
            model_version=version,
            to_stage=Stage.PRODUCTION,
            user=experimenter,
            reason="x",
        )

    assert not StageRequest.objects.exists()


def test_it_answers_400_not_500_for_an_unloadable_candidate(
    registered: Callable[..., ModelVersion], experimenter: User, client: Client
) -> None:
    unsafe_artifact(registered())
    client.force_login(experimenter)

    response = client.post(
        "/registry/models/fraud_detector/versions/1/request/",
        {"to_stage": "production", "reason": "x"},
    )

    assert response.status_code == 400
    assert "cannot be requested" in response.content.decode()
    assert not StageRequest.objects.exists()


def test_it_requires_a_reason_in_every_channel(
    registered: Callable[..., ModelVersion], experimenter: User
) -> None:
    with pytest.raises(ValidationError, match="a reason is required"):
        stage_request_create(
            origin=Origin.api(),
            model_version=registered(),
            to_stage=Stage.ARCHIVED,
            user=experimenter,
            reason="   ",
        )
