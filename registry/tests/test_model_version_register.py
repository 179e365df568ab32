from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from experiments.models import Experiment
from registry.models import GateEvaluation, ModelVersion, Stage, StageTransition
from registry.services import model_version_register
from registry.tests.conftest import UNDERFIT


def test_it_stages_the_first_version_against_floors_only(
    trained: Callable[..., Experiment],
) -> None:
    experiment = trained()

    evaluation, version = model_version_register(experiment_id=experiment.pk)

    assert evaluation is not None
    assert evaluation.passed
    assert "no production model" in evaluation.report["comparison"]
    assert version is not None
    assert version.version == 1
    assert version.stage == Stage.STAGING
    assert version.artifact_sha256 == experiment.artifact_sha256
    assert version.registration_gate == evaluation
    history = StageTransition.objects.get(model_version=version)
    assert (history.from_stage, history.to_stage) == (Stage.NONE, Stage.STAGING)
    assert history.decision == StageTransition.Decision.AUTOMATIC
    assert history.gate_report == evaluation.report


def test_it_numbers_versions_one_two_three(trained: Callable[..., Experiment]) -> None:
    versions = [model_version_register(experiment_id=trained().pk)[1] for _ in range(3)]
    numbers = [version.version for version in versions if version is not None]

    assert numbers == [1, 2, 3]


def test_it_records_a_failed_gate_and_registers_nothing(trained: Callable[..., Experiment]) -> None:
    experiment = trained(gate={"metrics": {"average_precision": {"threshold": 0.999}}})

    evaluation, version = model_version_register(experiment_id=experiment.pk)

    assert version is None
    assert evaluation is not None
    assert not evaluation.passed
    assert GateEvaluation.objects.get() == evaluation
    assert not ModelVersion.objects.exists()


def test_it_registers_nothing_when_the_config_names_no_model(
    trained: Callable[..., Experiment],
) -> None:
    experiment = trained(model_name=None)

    assert model_version_register(experiment_id=experiment.pk) == (None, None)
    assert not GateEvaluation.objects.exists()


def test_it_refuses_an_experiment_registered_already(trained: Callable[..., Experiment]) -> None:
    experiment = trained()
    model_version_register(experiment_id=experiment.pk)

    with pytest.raises(ValidationError, match="already registered"):
        model_version_register(experiment_id=experiment.pk)

    assert ModelVersion.objects.count() == 1


def test_it_compares_against_production_on_the_same_rows(
    production_version: ModelVersion, trained: Callable[..., Experiment]
) -> None:
    candidate = trained(name="candidate")

    evaluation, version = model_version_register(experiment_id=candidate.pk)

    assert evaluation is not None
    report = evaluation.report
    assert evaluation.baseline_version == production_version
    assert report["production"]["version"] == production_version.version
    primary = next(m for m in report["metrics"] if m["metric"] == "average_precision")
    # Same config and data: the production model re-scored on the candidate's
    # holdout gives the same scores, so the paired difference is exactly zero.
    assert primary["delta"] == pytest.approx(0.0, abs=1e-12)
    assert evaluation.passed
    assert version is not None
    assert version.version == 2


def test_it_refuses_a_clearly_worse_candidate(
    production_version: ModelVersion, trained: Callable[..., Experiment]
) -> None:
    candidate = trained(name="underfit", **UNDERFIT)

    evaluation, version = model_version_register(experiment_id=candidate.pk)

    assert version is None
    assert evaluation is not None
    assert not evaluation.passed
    assert evaluation.report["reasons"]
