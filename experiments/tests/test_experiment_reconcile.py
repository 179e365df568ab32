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
    experiment_heartbeat,
    experiment_reconcile,
    experiment_start,
    experiment_submit,
)
from mlplatform.redis_server import RedisServer, wait_for
from mlplatform.tests.factories import dead_owner, elsewhere_owner, live_owner

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
    owner: str | None = None,
) -> Experiment:
    """A RUNNING experiment whose heartbeat is silent_for seconds old, whose job
    (unless job_status is None) is in Redis with that status, run by WORKER
    through a work-horse on another host (its process cannot be looked up
    from here) unless `owner` says otherwise."""
    experiment = experiment_submit(config_text=make_config()).experiment
    job_id = job_id_for(experiment.pk)
    client = redis_server.client()
    client.lrem("rq:queue:training", 0, job_id)
    if job_status is None:
        client.delete(f"rq:job:{job_id}")
    else:
        client.hset(f"rq:job:{job_id}", mapping={"status": job_status, "worker_name": WORKER})
    assert experiment_start(
        experiment_id=experiment.pk,
        job_id=job_id,
        worker_name=WORKER,
        owner=owner or elsewhere_owner(),
    )
    beat = timezone.now() - timedelta(seconds=silent_for)
    Experiment.objects.filter(pk=experiment.pk).update(heartbeat_at=beat)
    return experiment


def in_process_run(make_config: Callable[..., str], *, owner: str, silent_for: float) -> Experiment:
    """A RUNNING experiment of `run_experiment` (no job), held by `owner`."""
    experiment = experiment_create(config_text=make_config())
    assert experiment_start(experiment_id=experiment.pk, owner=owner)
    beat = timezone.now() - timedelta(seconds=silent_for)
    Experiment.objects.filter(pk=experiment.pk).update(heartbeat_at=beat)
    return experiment


def worker_heartbeat(redis_server: RedisServer, *, seconds_ago: float) -> None:
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    redis_server.client().hset(f"rq:worker:{WORKER}", "last_heartbeat", utcformat(beat))


def redis_up_longer_than_stale(redis_server: RedisServer, settings: Settings) -> None:
    """A worker's missing registration means it died only once Redis has run
    longer than a live worker needs to write it (EXPERIMENT_STALE_SECONDS)."""
    settings.EXPERIMENT_STALE_SECONDS = 1
    wait_for(
        lambda: redis_server.client().info("server")["uptime_in_seconds"] >= 2,
        timeout=10,
        what="redis uptime",
    )


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


def test_it_fails_a_silent_running_experiment_whose_job_and_worker_are_gone(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status=None)
    redis_up_longer_than_stale(redis_server, queue_settings)

    report = experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith(
        f"worker died: worker {WORKER} stopped sending heartbeats"
    )
    assert experiment.finished_at is not None
    assert report.failed == [(experiment.pk, experiment.error_message)]


def test_it_keeps_a_run_whose_job_redis_lost_while_its_worker_beats(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    """Redis restarted empty during a database outage: the job is gone, but
    the worker running it is alive, so the run is alive until its lease ends."""
    experiment = running(make_config, redis_server, silent_for=120, job_status=None)
    worker_heartbeat(redis_server, seconds_ago=1)

    assert experiment_reconcile().failed == []
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING

    queue_settings.EXPERIMENT_LEASE_SECONDS = 100  # the silence is now past the lease
    experiment_reconcile()
    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith("presumed dead: silent for longer than its lease")


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


def test_it_names_the_database_when_a_job_failed_on_it(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status="failed")
    job = Job.fetch(job_id_for(experiment.pk), connection=redis_server.client())
    Result.create_failure(
        job,
        ttl=600,
        exc_string="Traceback ...\ndjango.db.utils.OperationalError: the database system is "
        "starting up\n",
    )

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith(
        "its job failed: database unavailable: the database system is starting up"
    )
    assert "worker died" not in experiment.error_message


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
    redis_up_longer_than_stale(redis_server, queue_settings)

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert "worker died" in experiment.error_message


def test_it_waits_for_a_worker_that_a_just_restarted_redis_has_not_heard_from_yet(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(make_config, redis_server, silent_for=60, job_status=None)
    queue_settings.EXPERIMENT_STALE_SECONDS = 30  # Redis has been up for less

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING


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


def test_it_fails_at_once_a_run_whose_work_horse_on_this_host_is_gone(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = running(
        make_config, redis_server, silent_for=0, job_status="started", owner=dead_owner()
    )
    worker_heartbeat(redis_server, seconds_ago=1)  # the worker lives; its horse does not

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith("worker died: its work-horse (pid ")


def test_it_fails_an_in_process_run_whose_process_is_gone(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = in_process_run(make_config, owner=dead_owner(), silent_for=60)

    experiment_reconcile()

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith("worker died: the process running it (pid ")


def test_it_fails_a_dead_in_process_run_even_while_redis_is_down(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = in_process_run(make_config, owner=dead_owner(), silent_for=60)
    redis_server.stop()

    report = experiment_reconcile()

    experiment.refresh_from_db()
    assert not report.queue_available
    assert experiment.status == Status.FAILED
    assert report.failed == [(experiment.pk, experiment.error_message)]


def test_it_keeps_a_live_in_process_run_through_a_two_minute_heartbeat_outage(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    """The database was down for two minutes: the run's process (this one)
    could not write its heartbeat, but it is alive, so it keeps its run and
    its next beat renews it."""
    experiment = in_process_run(make_config, owner=live_owner(), silent_for=120)

    for _ in range(2):  # with Redis, and without
        report = experiment_reconcile()
        experiment.refresh_from_db()
        assert experiment.status == Status.RUNNING
        assert report.failed == []
        redis_server.stop()
    assert experiment_heartbeat(experiment_id=experiment.pk, owner=live_owner())


def test_it_keeps_an_in_process_run_on_another_host_until_its_lease_ends(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = in_process_run(make_config, owner=elsewhere_owner(), silent_for=120)

    experiment_reconcile()
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING

    queue_settings.EXPERIMENT_LEASE_SECONDS = 119
    experiment_reconcile()
    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert "EXPERIMENT_LEASE_SECONDS" in experiment.error_message


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


def test_it_replaces_a_job_whose_rq_bookkeeping_is_broken(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    """After a flush, a re-queue and a killed worker, a job's execution list
    can name an execution Redis no longer has; RQ's own delete then raises
    "Execution ... not found in Redis" and the job could never be replaced."""
    experiment = experiment_submit(config_text=make_config()).experiment
    job_id = job_id_for(experiment.pk)
    client = redis_server.client()
    client.lrem("rq:queue:training", 0, job_id)
    client.hset(f"rq:job:{job_id}", "status", "failed")
    client.zadd(f"rq:executions:{job_id}", {"lost-execution": 9_999_999_999})

    report = experiment_reconcile()

    assert report.enqueued == [experiment.pk]
    assert report.errors == []
    assert Job.fetch(job_id, connection=client).get_status() == "queued"
    assert not client.exists(f"rq:executions:{job_id}")


def test_it_skips_a_poisoned_entry_and_still_fails_a_dead_run(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    poisoned = experiment_submit(config_text=make_config()).experiment
    client = redis_server.client()
    client.lrem("rq:queue:training", 0, job_id_for(poisoned.pk))
    client.hset(f"rq:job:{job_id_for(poisoned.pk)}", "status", "no-such-status")
    dead = running(make_config, redis_server, silent_for=60, job_status="started")
    worker_heartbeat(redis_server, seconds_ago=60)

    report = experiment_reconcile()

    dead.refresh_from_db()
    assert dead.status == Status.FAILED
    assert [(what, pk) for what, pk, _ in report.errors] == [("experiment", poisoned.pk)]
    assert "no-such-status" in report.errors[0][2]
    poisoned.refresh_from_db()
    assert poisoned.status == Status.CREATED


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


def test_a_warm_shutdown_is_not_swallowed_as_an_item_error() -> None:
    """RQ raises StopRequested from its SIGTERM handler wherever the worker
    is, a reconciliation pass included: it must reach the worker."""
    from rq.exceptions import StopRequested

    from experiments.services.reconcile import Reconciliation

    def stop(item_id: int) -> None:
        raise StopRequested

    with pytest.raises(StopRequested):
        Reconciliation().each("experiment", [1, 2], stop)


def test_a_worker_that_saw_a_horse_die_leaves_a_run_held_elsewhere(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    from experiments.services import experiment_fail_dead_holder

    elsewhere = running(make_config, redis_server, silent_for=0, job_status="started")
    gone = running(
        make_config, redis_server, silent_for=0, job_status="started", owner=dead_owner()
    )

    assert not experiment_fail_dead_holder(experiment_id=elsewhere.pk, message="died")
    assert experiment_fail_dead_holder(experiment_id=gone.pk, message="died")
    elsewhere.refresh_from_db()
    assert elsewhere.status == Status.RUNNING
