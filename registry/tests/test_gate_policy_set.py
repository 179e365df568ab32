from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from pytest_django.fixtures import Settings

from mlplatform.origin import Origin
from registry.models import GatePolicy, RegisteredModel
from registry.services import gate_policy_current, gate_policy_set, registered_model_ensure
from registry.tests.conftest import LAX_POLICY


@pytest.fixture
def model(db: None) -> RegisteredModel:
    return registered_model_ensure(name="fraud_detector")


def set_as(
    user: User | None, policy: dict[str, Any] = LAX_POLICY, reason: str = "loosen"
) -> GatePolicy:
    return gate_policy_set(
        model_name="fraud_detector",
        text=yaml.safe_dump(policy),
        user=user,
        reason=reason,
        origin=Origin.cli(),
    )


def test_it_gives_a_new_model_the_project_default_policy(model: RegisteredModel) -> None:
    policy = gate_policy_current(registered_model=model)

    assert policy.version == 1
    assert policy.actor_label == "project default"
    assert "configs/gate_policy.yaml" in policy.reason
    assert policy.policy["metrics"]["roc_auc"]["threshold"] == 0.75
    assert policy.policy["metrics"]["average_precision"]["threshold"] == 0.25


def test_it_records_a_change_by_the_permission_holder(
    model: RegisteredModel, policy_admin: User
) -> None:
    policy = set_as(policy_admin)

    assert policy.version == 2
    assert policy.created_by == policy_admin
    assert policy.reason == "loosen"
    assert (policy.channel, policy.host) == ("cli", Origin.cli().host)
    assert policy.policy["bootstrap"]["resamples"] == 200
    assert gate_policy_current(registered_model=model) == policy
    assert GatePolicy.objects.filter(registered_model=model).count() == 2


def test_it_lets_a_superuser_change_a_policy(model: RegisteredModel) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "pw")

    assert set_as(root).version == 2


@pytest.mark.parametrize("persona", ["experimenter", "approver", "viewer", "outsider"])
def test_it_refuses_everyone_without_the_permission(
    model: RegisteredModel, persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied, match=r"registry\.change_gatepolicy"):
        set_as(user)

    assert gate_policy_current(registered_model=model).version == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bootstrap": {"resamples": 100}}, "bootstrap.resamples: must be in [200, 20000]"),
        ({"bootstrap": {"resamples": 50_000}}, "bootstrap.resamples: must be in [200, 20000]"),
        ({"bootstrap": {"confidence": 0.5}}, "bootstrap.confidence: must be in [0.8, 0.999]"),
        ({"bootstrap": {"confidence": 0.9999}}, "bootstrap.confidence: must be in [0.8, 0.999]"),
        ({"min_positives": 5}, "min_positives: must be in [20, 1000000]"),
        ({"primary_metric": "auc"}, "primary_metric: unknown metric 'auc'"),
        (
            {"metrics": {"average_precision": {"threshold": 0.3}}},
            "the primary metric needs max_drop or max_relative_drop",
        ),
        (
            {"metrics": {"average_precision": {"max_drop": 0.02}}},
            "set at least one absolute floor",
        ),
    ],
)
def test_it_refuses_a_policy_outside_its_bounds(
    model: RegisteredModel, policy_admin: User, change: dict[str, Any], message: str
) -> None:
    policy = {**LAX_POLICY, **change}

    with pytest.raises(ValidationError) as caught:
        set_as(policy_admin, policy)

    assert any(message in text for text in caught.value.messages), caught.value.messages
    assert gate_policy_current(registered_model=model).version == 1


def test_it_lets_settings_raise_the_bounds(
    model: RegisteredModel, policy_admin: User, settings: Settings
) -> None:
    settings.GATE_POLICY_MIN_RESAMPLES = 500

    with pytest.raises(ValidationError, match=r"must be in \[500, 20000\], got 200"):
        set_as(policy_admin)


def test_it_requires_a_reason(model: RegisteredModel, policy_admin: User) -> None:
    with pytest.raises(ValidationError, match="a reason is required"):
        set_as(policy_admin, reason="  ")

    assert gate_policy_current(registered_model=model).version == 1


def test_it_refuses_an_unchanged_policy(model: RegisteredModel, policy_admin: User) -> None:
    set_as(policy_admin)

    with pytest.raises(ValidationError, match="identical to gate policy v2"):
        set_as(policy_admin)


def test_it_refuses_an_unknown_model(policy_admin: User) -> None:
    with pytest.raises(ValidationError, match="no model named 'fraud_detector'"):
        set_as(policy_admin)


def test_it_refuses_a_policy_that_is_not_a_mapping(
    model: RegisteredModel, policy_admin: User
) -> None:
    with pytest.raises(ValidationError, match="document: must be a mapping"):
        gate_policy_set(
            model_name="fraud_detector",
            text="- a list",
            user=policy_admin,
            reason="x",
            origin=Origin.web(),
        )


def test_it_refuses_a_broken_default_policy_file(
    db: None, tmp_path: Path, settings: Settings, make_policy_file: Callable[[dict[str, Any]], Path]
) -> None:
    settings.GATE_DEFAULT_POLICY_FILE = make_policy_file({"primary_metric": "nope"})

    broken = r"GATE_DEFAULT_POLICY_FILE .*unknown metric 'nope'"
    with pytest.raises(ImproperlyConfigured, match=broken):
        registered_model_ensure(name="fraud_detector")

    assert not GatePolicy.objects.exists()
    assert not RegisteredModel.objects.exists()
