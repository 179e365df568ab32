"""experiments/threads.py: the thread budget of a training run, from the rule
down to real workers that split the host's CPUs between them."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from pytest_django.fixtures import Settings
from threadpoolctl import threadpool_info

from experiments import training
from experiments.artifacts import artifact_read
from experiments.models import Status
from experiments.services import experiment_create, experiment_execute, experiment_submit
from experiments.tests.rq_helpers import WorkerProcess, wait_for
from experiments.tests.worker_helpers import wait_until_finished
from experiments.threads import (
    ThreadBudget,
    budget_for,
    thread_budget,
    thread_budget_in_force,
    threads_limited,
    training_workers_on_host,
    usable_cpus,
)


def openmp_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"}


def test_it_splits_the_cpus_between_the_training_processes() -> None:
    assert budget_for(configured=0, cpus=8, trainers=1).threads == 8
    assert budget_for(configured=0, cpus=8, trainers=3).threads == 2
    assert budget_for(configured=0, cpus=2, trainers=2).threads == 1


def test_it_gives_at_least_one_thread() -> None:
    assert budget_for(configured=0, cpus=2, trainers=5).threads == 1
    assert budget_for(configured=0, cpus=4, trainers=0).threads == 4


def test_it_takes_the_setting_over_the_rule() -> None:
    budget = budget_for(configured=3, cpus=2, trainers=2)

    assert budget == ThreadBudget(3, "TRAINING_THREADS=3")


def test_it_says_where_the_budget_came_from() -> None:
    assert budget_for(configured=0, cpus=2, trainers=2).reason == (
        "2 CPUs shared by 2 training processes on this host"
    )
    assert budget_for(configured=0, cpus=1, trainers=1).reason == (
        "1 CPU, 1 training process on this host"
    )


def test_it_counts_no_workers_when_redis_is_down(queue_settings: Settings) -> None:
    queue_settings.TRAINING_THREADS = 0
    queue_settings.RQ_QUEUES = {
        **queue_settings.RQ_QUEUES,
        "training": {**queue_settings.RQ_QUEUES["training"], "URL": "redis://127.0.0.1:1/0"},
    }

    assert training_workers_on_host() == 0
    assert thread_budget(in_worker=False).threads == usable_cpus()


def test_it_limits_openmp_threads_for_the_run_and_restores_them() -> None:
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)

    before = openmp_threads()
    with threads_limited(ThreadBudget(1, "test")):
        assert openmp_threads() == {1}
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert thread_budget_in_force() == ThreadBudget(1, "test")
    assert openmp_threads() == before
    assert thread_budget_in_force() is None


@pytest.mark.django_db
def test_it_records_the_budget_and_gives_it_to_a_forest(
    settings: Settings, make_config: Callable[..., str]
) -> None:
    settings.TRAINING_THREADS = 1
    config = make_config(model_type="random_forest", params={"n_estimators": 5})
    created = experiment_create(config_text=config)

    experiment = experiment_execute(experiment_id=created.pk)

    assert experiment is not None
    assert experiment.status == Status.COMPLETED
    assert experiment.environment["threads"] == "1"
    assert experiment.environment["threads_from"] == "TRAINING_THREADS=1"
    stored = artifact_read(path=experiment.artifact_path, sha256=experiment.artifact_sha256)
    assert training.model_from_bytes(stored).n_jobs == 1


@pytest.mark.django_db
def test_it_gives_a_run_in_this_process_every_cpu_when_no_worker_runs(
    make_config: Callable[..., str], queue_settings: Settings
) -> None:
    queue_settings.TRAINING_THREADS = 0
    created = experiment_create(config_text=make_config())

    experiment = experiment_execute(experiment_id=created.pk)

    assert experiment is not None
    assert experiment.environment["threads"] == str(usable_cpus())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_splits_the_cpus_between_two_workers_on_one_host(
    make_config: Callable[..., str], start_worker: Callable[..., WorkerProcess]
) -> None:
    first = start_worker()
    second = start_worker()
    assert training_workers_on_host() == 2

    experiment = experiment_submit(config_text=make_config()).experiment
    experiment = wait_until_finished(experiment.pk, timeout=120)

    assert experiment.status == Status.COMPLETED
    expected = budget_for(configured=0, cpus=usable_cpus(), trainers=2)
    assert experiment.environment["threads"] == str(expected.threads)
    assert experiment.environment["threads_from"] == expected.reason
    # A killed worker stops counting at once, though Redis keeps its key.
    second.kill()
    wait_for(lambda: training_workers_on_host() == 1, timeout=10, what="one worker")
    assert first.alive()


@pytest.mark.django_db(transaction=True)
def test_it_records_a_forests_progress_from_its_threads(
    settings: Settings, make_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.services import execution

    monkeypatch.setattr(execution, "PROGRESS_WRITE_SECONDS", 0.0)
    settings.TRAINING_THREADS = 2
    config = make_config(model_type="random_forest", params={"n_estimators": 40})
    created = experiment_create(config_text=config)
    seen: list[int] = []

    experiment = experiment_execute(
        experiment_id=created.pk, on_fit_progress=lambda progress: seen.append(progress.done)
    )

    assert experiment is not None
    assert experiment.status == Status.COMPLETED
    assert sorted(seen) == list(range(1, 41))
    assert experiment.environment["threads"] == "2"
