"""Shared pytest fixtures: the personas and experiment configs for tests.
Loaded from the root conftest.py through pytest_plugins."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User

from datasets.models import DatasetVersion
from registry.roles import roles_ensure

CHECKOUT = Path(settings.BASE_DIR)
RUNTIME_FOLDERS = (CHECKOUT / "var", CHECKOUT / "data")
# What a running demo server writes on its own (bin/demo): its database and
# its worker's log. No test can reach them: every setting points elsewhere.
DEMO_SERVER_FILES = (
    "mlplatform.sqlite3",
    "mlplatform.sqlite3-wal",
    "mlplatform.sqlite3-shm",
    "demo-worker.log",
)


def folder_state(folders: tuple[Path, ...] = RUNTIME_FOLDERS) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folders`: (size, modification time)."""
    state: dict[str, tuple[int, int]] = {}
    for folder in folders:
        for directory, subfolders, files in os.walk(folder):
            for name in (*subfolders, *files):
                path = Path(directory, name)
                if path.parent == folder and folder.name == "var" and name in DEMO_SERVER_FILES:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    found = path.lstat()
                    size = 0 if name in subfolders else found.st_size
                    state[str(path.relative_to(folder.parent))] = (size, found.st_mtime_ns)
    return state


@contextlib.contextmanager
def checkout_guarded(folders: tuple[Path, ...] = RUNTIME_FOLDERS) -> Iterator[None]:
    """Fails (pytest.fail) when anything under `folders` was created,
    changed or removed meanwhile, naming what."""
    before = folder_state(folders)
    yield
    after = folder_state(folders)
    if after != before:
        changed = sorted(
            path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
        )
        pytest.fail(
            "the test changed the checkout's runtime folders (tests have their own, "
            "see mlplatform/testing_settings.py): " + ", ".join(changed[:10]),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def checkout_untouched() -> Iterator[None]:
    """Fails the test that creates, changes or removes anything under the
    checkout's var/ or data/ (bin/demo's database, cache and artifacts):
    tests run in folders of their own (mlplatform.testing_settings, and
    runtime_folders in the root conftest.py)."""
    with checkout_guarded():
        yield


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
