"""The gate's rules are the registered model's policy: a candidate's config
cannot loosen them, and the policy's floors bind the first version too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from experiments.models import Experiment
from experiments.services import experiment_create
from registry.models import GateEvaluation, GatePolicy, ModelVersion, Stage
from registry.services import model_version_register
from registry.tests.conftest import LAX_POLICY, UNDERFIT

LOOSENING_GATES = [
    {"metrics": {"average_precision": {"threshold": 0.0}}},
    {"metrics": {"average_precision": {"max_drop": 1.0}}},
    {"min_positives": 1},
    {"bootstrap": {"confidence": 0.5}},
    {"bootstrap": {"seed": 12345}},
    {"primary_metric": "accuracy"},
]


@pytest.mark.parametrize("gate", LOOSENING_GATES)
def test_it_refuses_a_config_that_loosens_the_policy(
    make_config: Callable[..., str], gate: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        experiment_create(config_text=make_config(gate=gate, **UNDERFIT))

    message = "; ".join(caught.value.messages)
    assert "the project default gate policy (fraud_detector is new) decides" in message
    assert "a config may only tighten it" in message
    assert not Experiment.objects.exists()


def test_it_names_the_models_own_policy_once_the_model_exists(
    make_config: Callable[..., str], set_policy: Callable[..., GatePolicy]
) -> None:
    set_policy(
        {**LAX_POLICY, "metrics": {"average_precision": {"threshold": 0.3, "max_drop": 0.05}}}
    )

    with pytest.raises(ValidationError, match=r"the gate policy of fraud_detector \(v2\) decides"):
        experiment_create(
            config_text=make_config(gate={"metrics": {"average_precision": {"threshold": 0.1}}})
        )


def test_it_fails_closed_when_the_policy_was_tightened_after_submission(
    trained: Callable[..., Experiment], set_policy: Callable[..., GatePolicy]
) -> None:
    set_policy(LAX_POLICY)  # floor 0.0: asking for a 0.1 floor tightens it
    experiment = trained(gate={"metrics": {"average_precision": {"threshold": 0.1}}}, **UNDERFIT)
    tightened = {
        **LAX_POLICY,
        "metrics": {"average_precision": {"threshold": 0.2, "max_drop": 0.05}},
    }
    set_policy(tightened)

    evaluation, version = model_version_register(experiment_id=experiment.pk)

    assert version is None
    assert not ModelVersion.objects.exists()
    assert evaluation is not None
    assert not evaluation.passed
    assert evaluation.policy is not None
    assert evaluation.policy.version == 3
    assert evaluation.report["policy_version"] == 3
    assert "loosens the gate policy of fraud_detector (v3)" in evaluation.report["reasons"][0]
    assert "threshold: 0.1 is looser than the policy's 0.2" in evaluation.report["reasons"][0]


def test_it_refuses_an_underfit_first_version_by_the_policys_floors(
    trained: Callable[..., Experiment],
) -> None:
    experiment = trained(name="underfit", **UNDERFIT)

    evaluation, version = model_version_register(experiment_id=experiment.pk)

    assert version is None
    assert evaluation is not None
    assert not evaluation.passed
    assert evaluation.report["comparison"].startswith("no production model")
    assert evaluation.report["policy_version"] == 1
    failed = {entry["metric"] for entry in evaluation.report["metrics"] if not entry["passed"]}
    assert failed == {"average_precision", "roc_auc"}
    assert "misses the floor 0.25" in " ".join(evaluation.report["reasons"])


def test_it_stages_a_good_first_version_under_the_default_policy(
    trained: Callable[..., Experiment],
) -> None:
    evaluation, version = model_version_register(experiment_id=trained().pk)

    assert evaluation is not None
    assert evaluation.passed, evaluation.report["reasons"]
    assert version is not None
    assert version.stage == Stage.STAGING
    assert evaluation.policy is not None
    assert evaluation.policy.version == 1
    assert evaluation.report["summary"].startswith(
        "Passed: no production model yet; the candidate meets all 2 absolute floors"
    )


def test_it_applies_and_reports_a_tightening(trained: Callable[..., Experiment]) -> None:
    experiment = trained(gate={"metrics": {"roc_auc": {"threshold": 0.99}}})

    evaluation, version = model_version_register(experiment_id=experiment.pk)

    assert version is None
    assert evaluation is not None
    assert evaluation.report["tightenings"] == ["gate.metrics.roc_auc.threshold: 0.75 -> 0.99"]
    assert evaluation.report["policy"]["metrics"]["roc_auc"]["threshold"] == 0.99
    policy = GateEvaluation.objects.get().policy
    assert policy is not None
    assert policy.version == 1
