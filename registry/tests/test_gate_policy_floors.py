"""A gate policy that checks nothing is refused, with the bound quoted: a
primary-metric drop looser than GATE_POLICY_MAX_DROP, a floor at or below
what a random model scores (ROC AUC 0.5; average precision the share of
positives of the model's data)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from pytest_django.fixtures import Settings

from mlplatform.origin import Origin
from registry.models import GatePolicy, ModelVersion
from registry.services import gate_policy_set

BASE = {
    "primary_metric": "average_precision",
    "min_positives": 20,
    "bootstrap": {"resamples": 200, "confidence": 0.95, "seed": 3},
}


def set_policy(user: User, metrics: dict[str, object]) -> GatePolicy:
    return gate_policy_set(
        model_name="fraud_detector",
        text=yaml.safe_dump({**BASE, "metrics": metrics}),
        user=user,
        reason="loosen",
        origin=Origin.cli(),
    )


@pytest.fixture
def model(registered: Callable[..., ModelVersion]) -> ModelVersion:
    return registered()  # its data: 120 frauds in 4,000 rows, a share of 0.03


def test_it_refuses_the_policy_that_let_everything_through(
    model: ModelVersion, policy_admin: User
) -> None:
    before = GatePolicy.objects.count()

    with pytest.raises(ValidationError) as refused:
        set_policy(policy_admin, {"average_precision": {"threshold": 0.0, "max_drop": 1.0}})

    messages = refused.value.messages
    assert any("max_drop: 1 lets a much worse candidate through" in m for m in messages)
    assert any("at most 0.1 (GATE_POLICY_MAX_DROP)" in m for m in messages)
    assert any("threshold: 0 checks nothing" in m for m in messages)
    assert GatePolicy.objects.count() == before


def test_it_refuses_a_floor_a_random_model_clears(model: ModelVersion, policy_admin: User) -> None:
    with pytest.raises(ValidationError, match=r"0\.02 checks nothing: a random model on this"):
        set_policy(policy_admin, {"average_precision": {"threshold": 0.02, "max_drop": 0.05}})
    with pytest.raises(ValidationError, match=r"roc_auc\.threshold: 0\.5 checks nothing"):
        set_policy(
            policy_admin,
            {"average_precision": {"max_drop": 0.05}, "roc_auc": {"threshold": 0.5}},
        )


def test_it_accepts_a_policy_within_the_bounds(model: ModelVersion, policy_admin: User) -> None:
    policy = set_policy(policy_admin, {"average_precision": {"threshold": 0.05, "max_drop": 0.1}})

    assert policy.version == 2


def test_settings_may_tighten_the_bound(
    model: ModelVersion, policy_admin: User, settings: Settings
) -> None:
    settings.GATE_POLICY_MAX_DROP = 0.03

    with pytest.raises(ValidationError, match=r"at most 0.03 \(GATE_POLICY_MAX_DROP\)"):
        set_policy(policy_admin, {"average_precision": {"threshold": 0.05, "max_drop": 0.05}})
