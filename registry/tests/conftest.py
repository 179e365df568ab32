from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User

from experiments.models import Experiment, Status
from experiments.services import experiment_create, experiment_execute
from mlplatform.origin import Origin
from mlplatform.testing import make_user
from registry.models import GatePolicy, ModelVersion, Stage
from registry.services import (
    gate_policy_set,
    model_version_register,
    registered_model_ensure,
    stage_request_create,
    stage_request_decide,
)

# Deliberately weak: one stump on one random feature gives two distinct scores.
UNDERFIT = {
    "model_type": "random_forest",
    "params": {"n_estimators": 1, "max_depth": 1, "max_features": 1},
}


@pytest.fixture
def trained(make_config: Callable[..., str]) -> Callable[..., Experiment]:
    def train(**overrides: Any) -> Experiment:
        experiment = experiment_create(config_text=make_config(**overrides))
        experiment_execute(experiment_id=experiment.pk)
        experiment.refresh_from_db()
        assert experiment.status == Status.COMPLETED, experiment.error_message
        return experiment

    return train


@pytest.fixture
def registered(trained: Callable[..., Experiment]) -> Callable[..., ModelVersion]:
    def register(**overrides: Any) -> ModelVersion:
        evaluation, version = model_version_register(experiment_id=trained(**overrides).pk)
        assert evaluation is not None
        assert version is not None, evaluation.report["reasons"]
        return version

    return register


# A low floor, just above what a random model scores on the small data (its
# share of frauds, 0.03; the underfit stump scores 0.21): registration with no
# production yet passes almost whatever the quality; against a production
# model the max_drop still applies.
LAX_POLICY = {
    "primary_metric": "average_precision",
    "min_positives": 20,
    "bootstrap": {"resamples": 200, "confidence": 0.95, "seed": 3},
    "metrics": {"average_precision": {"threshold": 0.05, "max_drop": 0.05}},
}


@pytest.fixture
def policy_admin(db: None) -> User:
    """Holds registry.change_gatepolicy, and no role."""
    return make_user("polly", permissions=("registry.change_gatepolicy",))


@pytest.fixture
def set_policy(policy_admin: User) -> Callable[..., GatePolicy]:
    """Give a model (created if new) a gate policy, as the policy admin would."""

    def set_(policy: dict[str, Any], model_name: str = "fraud_detector") -> GatePolicy:
        registered_model_ensure(name=model_name)
        return gate_policy_set(
            model_name=model_name,
            text=yaml.safe_dump(policy),
            user=policy_admin,
            reason="test policy",
            origin=Origin.cli(),
        )

    return set_


@pytest.fixture
def lax_policy(set_policy: Callable[..., GatePolicy]) -> GatePolicy:
    return set_policy(LAX_POLICY)


def promote(version: ModelVersion, requester: User, approver: User) -> ModelVersion:
    request = stage_request_create(
        origin=Origin.cli(),
        model_version=version,
        to_stage=Stage.PRODUCTION,
        user=requester,
        reason="promote",
    )
    stage_request_decide(
        origin=Origin.cli(), request_id=request.pk, user=approver, approve=True, reason="ok"
    )
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
    return version


@pytest.fixture
def production_version(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> ModelVersion:
    return promote(registered(), experimenter, approver)


@pytest.fixture
def make_policy_file(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def make(policy: dict[str, Any]) -> Path:
        path = tmp_path / "gate_policy.yaml"
        path.write_text(yaml.safe_dump(policy))
        return path

    return make
