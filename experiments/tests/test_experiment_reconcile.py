"""experiment_reconcile against a private redis-server; the worker and job
states it judges are written into Redis by hand (no workers running)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import cast

import pytest
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings
from rq.job import Job
from rq.results import Result
from rq.utils import utcformat

from experiments.models import Experiment, Status
from experiments.queue import job_id_for
from experiments.services import (
    experiment_create,
    experiment_reconcile,
    experiment_start,
    experiment_submit,
)
from mlplatform.redis_server import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)
WORKER = "worker-1"


def queued_job_ids(redis_server: RedisServer) -> list[str]:
    job_ids = redis_server.client().lrange("rq:queue:training", 0, -1)
    return [raw.decode() for raw in cast("list[bytes]", job_ids)]


def submit_while_redis_is_down(
    make_config: Callable[..., str], redis_server: RedisServer, count: int = 1
) -> list[Experiment]:
    redis_server.stop()
    experiments = [experiment_submit(config_text=make_config()).experiment for _ in range(count)]
    redis_server.start()
    return experiments


def running(
    make_config: Callable[..., str],
    redis_server: RedisServer,
    *,
    silent_for: float,
    job_status: str | None,
) -> Experiment:
    """A RUNNING experiment whose heartbeat is silent_for seconds old, whose job
    (unless job_status is None) is in Redis with that status, run by WORKER."""
    experiment = experiment_submit(config_text=make_config()).experiment
    job_id = job_id_for(experiment.pk)
    client = redis_server.client()
    client.lrem("rq:queue:training", 0, job_id)
    if job_status is None:
        client.delete(f"rq:job:{job_id}")
    else:
        client.hset(f"rq:job:{job_id}", mapping={"status": job_status, "worker_name": WORKER})
    assert experiment_start(experiment_id=experiment.pk, job_id=job_id, worker_name=WORKER)
    beat = timezone.now() - timedelta(seconds=silent_for)
    Experiment.objects.filter(pk=experiment.pk).update(heartbeat_at=beat)
    return experiment


def worker_heartbeat(redis_server: RedisServer, *, seconds_ago: float) -> None:
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    redis_server.client().hset(f"rq:worker:{WORKER}", "last_heartbeat", utcformat(beat))


def test_it_queues_a_submitted_experiment_once_redis_is_back(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    [experiment] = submit_while_redis_is_down(make_config, redis_server)

    report = experiment_reconcile()

    assert report.queue_available
    assert report.enqueued == [experiment.pk]
    assert queued_job_ids(redis_server) == [job_id_for(experiment.pk)]
    experiment.refresh_from_db()
    assert experiment.enqueued_at is not None
    assert experiment.status == Status.CREATED


def test_it_changes_nothing_when_run_again(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    submit_while_redis_is_down(make_config, redis_server)
    experiment_reconcile()

    report = experiment_reconcile()

    assert report.enqueued == []
    assert report.failed == []
    assert len(queued_job_ids(redis_server)) == 1


def test_it_queues_again_the_experiments_a_restarted_redis_lost(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    first = experiment_submit(config_text=make_config()).experiment
    second = experiment_submit(config_text=make_config()).experiment
    redis_server.restart_empty()
    assert queued_job_ids(redis_server) == []

    report = experiment_reconcile()

    assert report.enqueued == [first.pk, second.pk]
    assert queued_job_ids(redis_server) == [job_id_for(first.pk), job_id_for(second.pk)]


def test_it_replaces_a_job_that_failed_before_claiming_its_experiment(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    client = redis_server.client()
    client.lrem("rq:queue:training", 0, job_id_for(experiment.pk))
    client.hset(f"rq:job:{job_id_for(experiment.pk)}", "status", "failed")

    report = experiment_reconcile()

    assert report.enqueued == [experiment.pk]
    assert Job.fetch(job_id_for(experiment.pk), connection=client).get_status() == "queued"


def test_it_leaves_alone_experiments_not_submitted_to_the_queue(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment_create(config_text=make_config())  # the in-process path of run_experiment

    report = experiment_reconcile()

    assert report.enqueued == []
    assert queued_job_ids(redis_server) == []


def test_it_fails_a_silent_running_experiment_whose_job_is_gone(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status=None)

    report = experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith("worker died: its job is gone from the queue")
    assert experiment.finished_at is not None
    assert report.failed == [(experiment.pk, experiment.error_message)]


def test_it_fails_a_silent_running_experiment_with_the_reason_rq_recorded(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status="failed")
    job = Job.fetch(job_id_for(experiment.pk), connection=redis_server.client())
    Result.create_failure(
        job,
        ttl=600,
        exc_string="Work-horse terminated unexpectedly; waitpid returned 9 (signal 9); ",
    )

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith(
        "worker died: Work-horse terminated unexpectedly; waitpid returned 9 (signal 9);"
    )


def test_it_fails_a_silent_running_experiment_whose_worker_stopped_beating(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status="started")
    worker_heartbeat(redis_server, seconds_ago=60)

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert f"worker {WORKER} stopped sending heartbeats" in experiment.error_message


def test_it_fails_a_silent_running_experiment_whose_worker_redis_forgot(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status="started")

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert "worker died" in experiment.error_message


def test_it_leaves_a_silent_experiment_whose_worker_is_alive_and_running_it(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status="started")
    worker_heartbeat(redis_server, seconds_ago=1)

    report = experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert report.failed == []


def test_it_leaves_a_running_experiment_with_a_fresh_heartbeat(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=1, job_status=None)

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING


def test_it_fails_a_silent_in_process_run(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_create(config_text=make_config())
    experiment_start(experiment_id=experiment.pk)
    old = timezone.now() - timedelta(seconds=60)
    Experiment.objects.filter(pk=experiment.pk).update(heartbeat_at=old)

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith("worker died: the process running it stopped")


def test_it_fails_a_silent_in_process_run_even_while_redis_is_down(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_create(config_text=make_config())
    experiment_start(experiment_id=experiment.pk)  # run_experiment: no job, no Redis
    old = timezone.now() - timedelta(seconds=60)
    Experiment.objects.filter(pk=experiment.pk).update(heartbeat_at=old)
    redis_server.stop()

    report = experiment_reconcile()

    experiment.refresh_from_db()
    assert not report.queue_available
    assert experiment.status == Status.FAILED
    assert report.failed == [(experiment.pk, experiment.error_message)]


def test_it_changes_nothing_else_while_redis_is_down(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    [created] = submit_while_redis_is_down(make_config, redis_server)
    silent = running(make_config, redis_server, silent_for=60, job_status=None)
    redis_server.stop()

    report = experiment_reconcile()

    assert not report.queue_available
    assert (report.enqueued, report.failed) == ([], [])
    created.refresh_from_db()
    silent.refresh_from_db()
    assert (created.status, silent.status) == (Status.CREATED, Status.RUNNING)


def test_it_is_safe_to_run_many_times_at_once(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiments = submit_while_redis_is_down(make_config, redis_server, count=10)
    reports = []
    barrier = threading.Barrier(5)

    def reconcile() -> None:
        barrier.wait()
        try:
            reports.append(experiment_reconcile())
        finally:
            connection.close()

    threads = [threading.Thread(target=reconcile) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    enqueued = sorted(pk for report in reports for pk in report.enqueued)
    assert enqueued == sorted(experiment.pk for experiment in experiments)
    assert sorted(queued_job_ids(redis_server)) == sorted(job_id_for(pk) for pk in enqueued)
