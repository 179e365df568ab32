"""Shared pytest fixtures: the personas and experiment configs for tests.
Loaded from the root conftest.py through pytest_plugins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import Group, Permission, User

from datasets.models import DatasetVersion
from registry.roles import roles_ensure


def make_user(username: str, *groups: str, permissions: tuple[str, ...] = ()) -> User:
    # A transactional test's flush drops the groups the migration made.
    roles_ensure()
    user = User.objects.create_user(username=username, password="pw-" + username)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    for dotted in permissions:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)  # fresh: no stale permission cache


@pytest.fixture
def experimenter(db: None) -> User:
    return make_user("erin", "experimenter")


@pytest.fixture
def approver(db: None) -> User:
    return make_user("arthur", "approver")


@pytest.fixture
def viewer(db: None) -> User:
    return make_user("vera", "viewer")


@pytest.fixture
def outsider(db: None) -> User:
    return make_user("oscar")


def config_yaml(
    *,
    dataset: DatasetVersion,
    name: str = "small_baseline",
    model_type: str = "logistic_regression",
    params: dict[str, Any] | None = None,
    threshold: float = 0.5,
    model_name: str | None = "fraud_detector",
    gate: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A config document for a registered DatasetVersion."""
    if params is None:
        params = {"class_weight": "balanced", "max_iter": 500}
    document: dict[str, Any] = {
        "experiment_name": name,
        "dataset": {"name": dataset.dataset.name, "version": dataset.version},
        "model": {"type": model_type, "params": params},
        "split": {"test_size": 0.3, "seed": 7},
        "threshold": threshold,
    }
    if model_name:
        document["registry"] = {"model_name": model_name}
    if gate:
        document["gate"] = gate
    document.update(extra or {})
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture
def make_config(registered_dataset: DatasetVersion) -> Callable[..., str]:
    def build(**overrides: Any) -> str:
        return config_yaml(dataset=registered_dataset, **overrides)

    return build
