"""Fixtures shared by every app's tests."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from django.test import TransactionTestCase
from pytest_django.fixtures import Settings

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from datasets.synthetic import write_fraud_csv
from registry import history_guard
from serving.loading import served_models_clear

pytest_plugins = [
    "mlplatform.testing",
    "experiments.tests.rq_helpers",
    "experiments.tests.outage_helpers",
]

SMALL_FRAUD_ROWS = 4000
SMALL_FRAUD_FRAUDS = 120


@pytest.fixture(autouse=True)
def runtime_folders(tmp_path: Path, settings: Settings) -> Path:
    """Every runtime folder in this test's own temporary folder: the data
    root, the dataset cache, the artifacts, VAR_DIR. Created when used."""
    settings.VAR_DIR = tmp_path / "var"
    settings.DATA_ROOT = tmp_path / "data"
    settings.DATASET_CACHE_ROOT = tmp_path / "cache" / "datasets"
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(settings.ARTIFACT_ROOT)},
        },
    }
    return tmp_path


@pytest.fixture
def data_root(runtime_folders: Path, settings: Settings) -> Path:
    """This test's DATA_ROOT, created; the dataset cache and artifacts live beside it."""
    root = Path(settings.DATA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's folders (mlplatform.testing_settings) go with it, once the
    test databases are gone."""
    from mlplatform import testing_settings

    if testing_settings.CREATED_HERE:
        shutil.rmtree(os.environ[testing_settings.ROOT_VARIABLE], ignore_errors=True)


@pytest.fixture
def small_fraud_csv(data_root: Path) -> Path:
    """A 4,000-row synthetic fraud CSV (120 frauds) under DATA_ROOT."""
    return write_fraud_csv(
        data_root / "small_fraud" / "v1" / "small_fraud.csv",
        rows=SMALL_FRAUD_ROWS,
        frauds=SMALL_FRAUD_FRAUDS,
        seed=0,
    )


@pytest.fixture
def registered_dataset(small_fraud_csv: Path, db: None) -> DatasetVersion:
    """small_fraud_csv registered as small_fraud:v1 with target Class."""
    return dataset_register(
        name="small_fraud",
        version="v1",
        path=small_fraud_csv,
        target="Class",
        description="Synthetic fraud data for tests.",
        user_name="pytest",
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Settings) -> None:
    """Real hashing costs ~100 ms a persona; tests log in, they don't test hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def one_training_thread(settings: Settings) -> None:
    """Fits in this process train on one thread, so a forest builds its trees
    (and reports their progress) in the test's own thread: under the `db`
    fixture another thread's connection cannot see the test's uncommitted
    rows, and on SQLite it waits for the test's write lock. Real workers do
    not inherit this; experiments/tests/test_threads.py sets the budget itself."""
    settings.TRAINING_THREADS = 1


# _fixture_teardown and _databases_names are Django's private API: django-stubs
# leaves them out, hence the ignores.
_flush_between_tests = TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]


def _flush_with_the_history_guard_lifted(self: TransactionTestCase) -> None:
    """A transactional test's teardown empties every table, which the
    append-only triggers refuse (rightly: they refuse it to everyone else)."""
    with contextlib.ExitStack() as lifted:
        for alias in self._databases_names(include_mirrors=False):  # type: ignore[attr-defined]
            lifted.enter_context(history_guard.suspended(connections[alias]))
        _flush_between_tests(self)


TransactionTestCase._fixture_teardown = _flush_with_the_history_guard_lifted  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def served_models_forgotten() -> Iterator[None]:
    """Each test starts with no model loaded: primary keys repeat between tests."""
    served_models_clear()
    yield
    served_models_clear()
