from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from experiments.models import Experiment, Status
from experiments.services import experiment_create, experiment_execute
from registry.models import ModelVersion, Stage
from registry.services import model_version_register, stage_request_create, stage_request_decide

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
        assert version is not None, evaluation.report["reasons"]
        return version

    return register


# A zero floor: registration with no production yet passes whatever the quality;
# against a production model the max_drop still applies.
LAX_GATE = {
    "min_positives": 10,
    "metrics": {"average_precision": {"threshold": 0.0, "max_drop": 0.05}},
}


def promote(version: ModelVersion, requester: Any, approver: Any) -> ModelVersion:
    request = stage_request_create(
        model_version=version, to_stage=Stage.PRODUCTION, user=requester, reason="promote"
    )
    stage_request_decide(request_id=request.pk, user=approver, approve=True, reason="ok")
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
    return version


@pytest.fixture
def production_version(
    registered: Callable[..., ModelVersion], experimenter: Any, approver: Any
) -> ModelVersion:
    return promote(registered(), experimenter, approver)
