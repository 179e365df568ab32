"""experiment_cancel: the claim, and the queued or running job it removes or
stops, with a real worker and a private Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from rq.job import Job

from experiments.models import Metric, Phase, Status
from experiments.queue import job_enqueue, job_id_for
from experiments.services import experiment_cancel, experiment_submit
from experiments.tests.rq_helpers import WorkerProcess, pid_alive, wait_for
from experiments.tests.worker_helpers import slow_config, wait_for_phase
from mlplatform.redis_server import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)


def queued_job_ids(redis_server: RedisServer) -> list[str]:
    job_ids = redis_server.client().lrange("rq:queue:training", 0, -1)
    return [raw.decode() for raw in cast("list[bytes]", job_ids)]


def test_it_cancels_a_queued_experiment_and_removes_its_job(
    make_config: Callable[..., str],
    queue_settings: Settings,
    redis_server: RedisServer,
    django_user_model: type[User],
) -> None:
    erin = django_user_model.objects.create_user(username="erin")
    experiment = experiment_submit(config_text=make_config()).experiment

    assert experiment_cancel(experiment_id=experiment.pk, user=erin)

    experiment.refresh_from_db()
    assert experiment.status == Status.CANCELLED
    assert experiment.error_message == "cancelled by erin"
    assert experiment.finished_at is not None
    assert queued_job_ids(redis_server) == []
    assert not Job.exists(job_id_for(experiment.pk), connection=redis_server.client())


def test_it_refuses_to_cancel_a_finished_experiment(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    assert experiment_cancel(experiment_id=experiment.pk)

    assert not experiment_cancel(experiment_id=experiment.pk)


@pytest.mark.slow
def test_it_cancels_while_redis_is_down_and_the_job_later_does_nothing(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    redis_server.stop()

    assert experiment_cancel(experiment_id=experiment.pk)

    # The restarted test Redis is empty: put the job back as a persistent Redis
    # would have kept it, still queued, for a worker to pick up.
    redis_server.start()
    job_enqueue(experiment_id=experiment.pk, timeout_seconds=60)
    start_worker()
    job = Job.fetch(job_id_for(experiment.pk), connection=redis_server.client())
    wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=60, what="the job")
    assert job.return_value() == "claim lost"
    experiment.refresh_from_db()
    assert experiment.status == Status.CANCELLED
    assert experiment.started_at is None


@pytest.mark.slow
def test_it_stops_a_running_experiment(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    worker = start_worker()
    experiment = experiment_submit(config_text=slow_config(make_config)).experiment
    wait_for_phase(experiment.pk, Phase.FITTING)
    horse = worker.wait_for_horse()

    assert experiment_cancel(experiment_id=experiment.pk)

    wait_for(lambda: not pid_alive(horse), timeout=20, what="the work-horse to stop")
    job = Job.fetch(job_id_for(experiment.pk), connection=redis_server.client())
    wait_for(lambda: job.get_status(refresh=True) == "stopped", timeout=20, what="job stopped")
    time.sleep(2)  # the worker's reconciliation must not change a cancelled row
    experiment.refresh_from_db()
    assert experiment.status == Status.CANCELLED
    assert not Metric.objects.filter(experiment=experiment).exists()
    assert worker.alive()
