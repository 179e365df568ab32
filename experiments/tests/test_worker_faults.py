"""Faults with real processes: killed work-horses and workers, Redis down or
emptied, PostgreSQL restarted. Each test has its own redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connections

from experiments.models import Experiment, Metric, Phase, Status
from experiments.services import experiment_submit
from experiments.tests.rq_helpers import WorkerProcess, is_postgresql, pid_alive, wait_for
from experiments.tests.worker_helpers import (
    slow_config,
    wait_for_job_end,
    wait_for_phase,
    wait_for_status,
    wait_until_finished,
)
from mlplatform.redis_server import RedisServer
from registry.models import GateEvaluation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
TWO_MINUTES = 120


def ran_once(experiment: Experiment, redis_server: RedisServer) -> bool:
    """One RQ execution, one claim, one set of metrics, one gate run."""
    job = wait_for_job_end(redis_server.client(), experiment.pk)
    return (
        experiment.status == Status.COMPLETED
        and len(job.results()) == 1
        and Metric.objects.filter(experiment=experiment, name="accuracy").count() == 1
        and GateEvaluation.objects.filter(candidate=experiment).count() == 1
    )


def test_it_fails_the_experiment_when_the_work_horse_is_killed(
    make_config: Callable[..., str], start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    experiment = experiment_submit(config_text=slow_config(make_config)).experiment
    wait_for_phase(experiment.pk, Phase.FITTING)
    horse = worker.wait_for_horse()

    os.kill(horse, signal.SIGKILL)  # as the out-of-memory killer would
    killed_at = time.monotonic()

    experiment = wait_for_status(experiment.pk, (Status.FAILED,), timeout=TWO_MINUTES)
    assert time.monotonic() - killed_at < TWO_MINUTES
    assert experiment.error_message.startswith("worker died: Work-horse terminated unexpectedly")
    assert "SIGKILL" in experiment.error_message
    assert worker.alive()
    # The same worker goes on to run the next experiment.
    following = experiment_submit(config_text=make_config()).experiment
    assert wait_until_finished(following.pk).status == Status.COMPLETED


def test_it_fails_the_experiment_when_the_whole_worker_is_killed(
    make_config: Callable[..., str], start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    experiment = experiment_submit(config_text=slow_config(make_config)).experiment
    wait_for_phase(experiment.pk, Phase.FITTING)
    worker.wait_for_horse()

    worker.kill()  # parent and work-horse, as a crashed host would
    killed_at = time.monotonic()
    start_worker()  # the operator's service manager restarts it

    experiment = wait_for_status(experiment.pk, (Status.FAILED,), timeout=TWO_MINUTES)
    assert time.monotonic() - killed_at < TWO_MINUTES
    assert experiment.error_message.startswith("worker died: its work-horse (pid ")


def test_a_worker_killed_and_restarted_under_its_name_serves_within_5_s(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    """RQ keeps a SIGKILLed worker's registration for minutes and refused a
    worker of the same name meanwhile; the restarted one takes the name over
    and fails what the dead one held."""
    worker = start_worker(name="host-1")
    experiment = experiment_submit(config_text=slow_config(make_config)).experiment
    wait_for_phase(experiment.pk, Phase.FITTING)
    worker.wait_for_horse()
    worker.kill()  # parent and work-horse
    assert redis_server.client().exists("rq:worker:host-1")  # the registration outlives it

    restarted_at = time.monotonic()
    restarted = start_worker(name="host-1")  # waits until it listens
    listening_after = time.monotonic() - restarted_at

    assert listening_after < 5, f"listening after {listening_after:.1f} s"
    assert "taking over the name" in restarted.log_text()
    failed = wait_for_status(experiment.pk, (Status.FAILED,), timeout=30)
    assert failed.error_message.startswith("worker died: its work-horse (pid ")
    following = experiment_submit(config_text=make_config()).experiment
    finished = wait_until_finished(following.pk)
    assert finished.status == Status.COMPLETED
    assert finished.worker_name == "host-1"


def test_a_worker_registers_again_when_redis_lost_its_data(
    start_worker: Callable[..., WorkerProcess], redis_server: RedisServer
) -> None:
    """After a restart without its data, a live worker's registration comes
    back whole (its pid and host), not as a bare heartbeat: so once it is
    killed, its successor can tell that it died and take the name at once."""
    worker = start_worker(name="host-1")
    redis_server.restart_empty()
    client = redis_server.client()

    wait_for(
        lambda: client.hget("rq:worker:host-1", "pid") == str(worker.pid).encode(),
        timeout=30,
        what="the worker to register again",
    )
    worker.kill()
    restarted = start_worker(name="host-1")
    assert "taking over the name" in restarted.log_text()


def test_a_live_worker_keeps_its_name(
    start_worker: Callable[..., WorkerProcess], redis_server: RedisServer
) -> None:
    start_worker(name="host-1")

    second = start_worker(name="host-1", listening=False)

    assert second.process is not None
    assert second.process.wait(timeout=60) != 0
    assert "There exists an active worker named 'host-1' already" in second.log_text()


def test_a_work_horse_that_outlives_its_worker_keeps_its_run(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    """Only the worker's main process is killed: its work-horse trains on,
    the restarted worker takes the name over, and the live run completes."""
    worker = start_worker(name="host-1")
    experiment = experiment_submit(
        config_text=make_config(model_type="random_forest", params={"n_estimators": 1500})
    ).experiment
    wait_for_phase(experiment.pk, Phase.FITTING)
    horse = worker.wait_for_horse()
    worker.kill_parent()
    start_worker(name="host-1")

    finished = wait_until_finished(experiment.pk, timeout=180)
    assert finished.status == Status.COMPLETED, finished.error_message
    # The orphaned horse exits once it has told RQ (its own bookkeeping, after the row).
    wait_for(lambda: not pid_alive(horse), timeout=60, what="the orphaned horse to exit")


def test_it_records_a_submission_while_redis_is_down_and_runs_it_when_back(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    worker = start_worker()
    redis_server.stop()

    submission = experiment_submit(config_text=make_config())

    experiment = submission.experiment
    assert not submission.enqueued
    assert "will run when the queue is back" in submission.message
    experiment.refresh_from_db()
    assert experiment.status == Status.CREATED
    time.sleep(3)  # the worker keeps trying to reach Redis meanwhile
    redis_server.start()  # same port, empty

    experiment = wait_until_finished(experiment.pk, timeout=90)
    assert ran_once(experiment, redis_server), experiment.error_message
    assert experiment.worker_name == worker.name  # the worker waited for Redis


def test_a_worker_started_while_redis_is_down_waits_for_it(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    redis_server.stop()
    experiment = experiment_submit(config_text=make_config()).experiment
    worker = start_worker(listening=False)  # e.g. the host booted the workers first

    wait_for(
        lambda: "Redis unavailable" in worker.log_text(), timeout=60, what="the worker to wait"
    )
    assert worker.alive(), worker.log_text()
    redis_server.start()

    experiment = wait_until_finished(experiment.pk, timeout=90)
    assert ran_once(experiment, redis_server), experiment.error_message
    assert experiment.worker_name == worker.name


def test_it_runs_once_each_experiment_a_restarted_redis_lost(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    experiments = [experiment_submit(config_text=make_config()).experiment for _ in range(3)]
    assert all(experiment.enqueued_at for experiment in experiments)

    redis_server.restart_empty()
    start_worker()

    for experiment in experiments:
        experiment = wait_until_finished(experiment.pk, timeout=90)
        assert ran_once(experiment, redis_server), experiment.error_message


def test_it_survives_a_postgresql_restart_between_jobs(
    make_config: Callable[..., str], start_worker: Callable[..., WorkerProcess]
) -> None:
    if not is_postgresql():
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    worker = start_worker()
    first = experiment_submit(config_text=make_config()).experiment
    assert wait_until_finished(first.pk).status == Status.COMPLETED

    connections.close_all()
    restart_postgresql()
    connections.close_all()

    second = experiment_submit(config_text=make_config()).experiment
    second = wait_until_finished(second.pk)
    assert second.status == Status.COMPLETED, second.error_message
    assert second.worker_name == worker.name
    assert worker.alive()


def restart_postgresql() -> None:
    version = sorted(path.name for path in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=120,
    )
    wait_for(
        lambda: (
            subprocess.run(
                ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False
            ).returncode
            == 0
        ),
        timeout=60,
        interval=0.5,
        what="PostgreSQL to accept connections",
    )
