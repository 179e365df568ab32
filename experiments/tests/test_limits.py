"""experiments/limits.py: the config bounds from settings, and the memory
limit of a training process, down to real runs that allocate past it in a
work-horse and in `manage.py run_experiment`."""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from pytest_django.fixtures import Settings

from datasets.models import DatasetVersion
from datasets.services import dataset_register
from experiments.configs import ConfigLimits
from experiments.limits import (
    config_limits,
    memory_failure_message,
    memory_limit_in_force_mb,
    memory_limited,
)
from experiments.models import Experiment, Status
from experiments.services import experiment_submit
from experiments.tests.rq_helpers import MANAGE_PY, WorkerProcess, worker_env
from experiments.tests.worker_helpers import wait_until_finished
from mlplatform.testing import config_yaml

SMALL_LIMIT_MB = 1024
# 6,000,000 rows of five integer columns: a 60 MB file whose parse alone needs
# well over 1 GiB of address space, on top of the ~0.7 GiB a process starts with.
HEAVY_ROWS = 3_000_000


@pytest.fixture
def heavy_dataset(data_root: Path, db: None) -> DatasetVersion:
    path = data_root / "heavy" / "heavy.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"a,b,c,d,Class\n" + b"1,2,3,4,0\n1,2,3,4,1\n" * HEAVY_ROWS)
    return dataset_register(
        name="heavy", version="v1", path=path, target="Class", user_name="pytest"
    )


def heavy_config(dataset: DatasetVersion) -> str:
    return config_yaml(dataset=dataset, name="too_big", model_name=None)


# ------------------------------------------------------------- config bounds


def test_it_gives_the_parser_the_documented_defaults() -> None:
    assert config_limits() == ConfigLimits()


def test_it_gives_the_parser_the_bounds_from_settings(settings: Settings) -> None:
    settings.TRAINING_MAX_TIMEOUT_SECONDS = 60
    settings.TRAINING_PARAM_LIMITS = {"random_forest": {"n_estimators": 3}}

    limits = config_limits()

    assert limits.max_timeout_seconds == 60
    assert limits.param_limit("random_forest", "n_estimators") == 3
    assert limits.param_limit("logistic_regression", "max_iter") is None


def test_it_reads_each_bound_from_its_environment_variable() -> None:
    code = "from django.conf import settings; print(settings.TRAINING_PARAM_LIMITS)"
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "shell", "-c", code],
        env={**worker_env("redis://127.0.0.1:1/0"), "TRAINING_LIMIT_RANDOM_FOREST_MAX_DEPTH": "7"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "'max_depth': 7" in result.stdout


# -------------------------------------------------------------- memory limit


def test_it_limits_the_address_space_only_for_the_block() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)

    with memory_limited(1024 * 1024):  # 1 TiB: a limit that changes nothing else
        assert memory_limit_in_force_mb() == 1024 * 1024

    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_it_leaves_the_process_unlimited_when_the_limit_is_zero() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)

    with memory_limited(0):
        assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_it_names_the_limit_when_a_limited_run_runs_out_of_memory() -> None:
    with memory_limited(1024 * 1024):
        message = memory_failure_message(MemoryError())
        enomem = memory_failure_message(OSError(12, "Cannot allocate memory"))
        no_thread = memory_failure_message(RuntimeError("can't start new thread"))
        other = memory_failure_message(ValueError("bad"))

    assert message == (
        "exceeded the memory limit of 1,048,576 MiB (TRAINING_MEMORY_LIMIT_MB); "
        "raise the limit or train on less data"
    )
    assert enomem == message
    assert no_thread == message
    assert other is None


def test_it_says_nothing_of_a_limit_when_none_is_in_force() -> None:
    if memory_limit_in_force_mb() is not None:
        pytest.skip("this test process runs under an address-space limit")
    assert memory_failure_message(MemoryError()) is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_fails_a_work_horse_past_the_limit_and_the_worker_lives_on(
    heavy_dataset: DatasetVersion,
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker(TRAINING_MEMORY_LIMIT_MB=SMALL_LIMIT_MB)

    experiment = experiment_submit(config_text=heavy_config(heavy_dataset)).experiment
    experiment = wait_until_finished(experiment.pk, timeout=120)

    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith(
        "exceeded the memory limit of 1,024 MiB (TRAINING_MEMORY_LIMIT_MB)"
    )
    # Where the address space runs out decides the error: an allocation
    # (MemoryError) or a new thread's stack (seen in CI on PostgreSQL).
    assert (
        "MemoryError" in experiment.traceback
        or "RuntimeError: can't start new thread" in experiment.traceback
    )
    assert worker.alive()
    # The limit held the work-horse only: the same worker runs the next one.
    following = experiment_submit(config_text=make_config()).experiment
    assert wait_until_finished(following.pk, timeout=120).status == Status.COMPLETED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_fails_an_in_process_run_past_the_limit(
    heavy_dataset: DatasetVersion, tmp_path: Path
) -> None:
    config = tmp_path / "too_big.yaml"
    config.write_text(heavy_config(heavy_dataset))
    env = worker_env(settings.RQ_QUEUES["training"]["URL"], TRAINING_MEMORY_LIMIT_MB=SMALL_LIMIT_MB)

    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "run_experiment", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "exceeded the memory limit of 1,024 MiB" in result.stderr
    experiment = Experiment.objects.get()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith("exceeded the memory limit of 1,024 MiB")
