"""experiments.jobs: run by real `rqworker` processes against a private Redis,
and the failure callback RQ calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

import pytest
from pytest_django.fixtures import Settings
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from experiments.jobs import experiment_job_failed
from experiments.models import Metric, Status
from experiments.queue import JOB_FUNCTION, job_id_for, training_queue
from experiments.services import experiment_start, experiment_submit
from experiments.tests.rq_helpers import WorkerProcess, wait_for
from experiments.tests.worker_helpers import (
    slow_config,
    wait_for_job_end,
    wait_until_finished,
    wait_until_registration_recorded,
)
from mlplatform.redis_server import RedisServer
from mlplatform.tests.factories import dead_owner, elsewhere_owner, live_owner
from registry.models import GateEvaluation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.slow
def test_it_trains_gates_and_registers_a_submitted_experiment_on_a_worker(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    worker = start_worker()

    experiment = experiment_submit(config_text=make_config()).experiment

    experiment = wait_until_finished(experiment.pk)
    assert experiment.status == Status.COMPLETED, experiment.error_message
    assert wait_for_job_end(redis_server.client(), experiment.pk).return_value() == "completed"
    experiment = wait_until_registration_recorded(experiment.pk)
    assert experiment.registration == "registered"
    assert experiment.job_id == job_id_for(experiment.pk)
    assert experiment.worker_name == worker.name
    assert experiment.phase == ""
    assert experiment.enqueued_at is not None
    assert experiment.started_at is not None
    assert experiment.finished_at is not None
    assert experiment.enqueued_at <= experiment.started_at <= experiment.finished_at
    assert Metric.objects.filter(experiment=experiment, name="average_precision").exists()
    assert GateEvaluation.objects.filter(candidate=experiment).count() == 1


@pytest.mark.slow
def test_it_does_nothing_when_its_experiment_was_already_claimed(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    start_worker()
    experiment = wait_until_finished(experiment_submit(config_text=make_config()).experiment.pk)
    wait_for_job_end(redis_server.client(), experiment.pk)
    metric_count = Metric.objects.filter(experiment=experiment).count()

    # A second delivery of the same experiment, as a retry or a duplicate would be.
    duplicate = training_queue().enqueue_call(JOB_FUNCTION, args=(experiment.pk,))

    wait_for(
        lambda: duplicate.get_status(refresh=True) == "finished", timeout=30, what="the duplicate"
    )
    assert duplicate.return_value() == "claim lost"
    finished = wait_until_finished(experiment.pk)
    assert finished.finished_at == experiment.finished_at
    assert Metric.objects.filter(experiment=experiment).count() == metric_count
    assert GateEvaluation.objects.filter(candidate=experiment).count() == 1


@pytest.mark.slow
def test_it_ends_failed_with_timed_out_after_n_s_past_its_timeout(
    make_config: Callable[..., str],
    start_worker: Callable[..., WorkerProcess],
    redis_server: RedisServer,
) -> None:
    start_worker()
    config = slow_config(make_config, extra={"run": {"timeout_seconds": 2}})

    experiment = experiment_submit(config_text=config).experiment

    experiment = wait_until_finished(experiment.pk)
    assert experiment.status == Status.FAILED
    assert experiment.error_message == "timed out after 2 s"
    assert experiment.finished_at is not None
    assert experiment.started_at is not None
    assert not Metric.objects.filter(experiment=experiment).exists()
    job = Job.fetch(job_id_for(experiment.pk), connection=redis_server.client())
    assert job.timeout == 2
    # The claim records started_at right after RQ starts the job and its
    # timer: the work-horse imported the training stack before (it took
    # seconds inside the job, and a 2 s timeout could fire before the claim).
    assert job.started_at is not None
    before_claim = (experiment.started_at - job.started_at.replace(tzinfo=UTC)).total_seconds()
    assert -0.05 < before_claim < 0.5
    assert 1.5 <= (experiment.finished_at - experiment.started_at).total_seconds() < 30


def test_it_fails_an_experiment_whose_job_timed_out_before_claiming_it(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    job = Job.fetch(experiment.job_id, connection=redis_server.client())

    # RQ's death penalty can fire before the job's claim on a busy host.
    timeout = JobTimeoutException("Task exceeded maximum timeout value (1800 seconds)")
    experiment_job_failed(job, job.connection, JobTimeoutException, timeout, None)

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message == f"timed out after {job.timeout} s"


def test_it_leaves_a_created_experiment_to_the_reconciler_when_its_job_failed_otherwise(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    job = Job.fetch(experiment.job_id, connection=redis_server.client())

    experiment_job_failed(job, job.connection, AbandonedJobError, AbandonedJobError(), None)

    experiment.refresh_from_db()
    assert experiment.status == Status.CREATED


def test_it_fails_a_running_experiment_that_rq_found_abandoned(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    assert experiment_start(
        experiment_id=experiment.pk, job_id=experiment.job_id, owner=dead_owner()
    )
    job = Job.fetch(experiment.job_id, connection=redis_server.client())

    # What RQ's StartedJobRegistry.cleanup calls when a job's worker died.
    experiment_job_failed(job, job.connection, AbandonedJobError, AbandonedJobError(), None)

    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED
    assert experiment.error_message.startswith("worker died: its work-horse (pid ")
    assert experiment.error_message.endswith("RQ found the job abandoned")


def test_it_leaves_an_abandoned_job_alone_while_its_holder_lives(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    assert experiment_start(
        experiment_id=experiment.pk, job_id=experiment.job_id, owner=live_owner()
    )
    job = Job.fetch(experiment.job_id, connection=redis_server.client())

    experiment_job_failed(job, job.connection, AbandonedJobError, AbandonedJobError(), None)

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING


def test_it_never_fails_a_run_that_another_process_holds(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    """A duplicate delivery that raised before its claim (the database was
    down) runs this callback in its own work-horse: the run belongs to
    another, live process and is left alone."""
    experiment = experiment_submit(config_text=make_config()).experiment
    assert experiment_start(
        experiment_id=experiment.pk, job_id=experiment.job_id, owner=elsewhere_owner()
    )
    job = Job.fetch(experiment.job_id, connection=redis_server.client())

    experiment_job_failed(job, job.connection, RuntimeError, RuntimeError("boom"), None)
    timeout = JobTimeoutException("Task exceeded maximum timeout value (1800 seconds)")
    experiment_job_failed(job, job.connection, JobTimeoutException, timeout, None)

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING


def test_it_leaves_a_created_experiment_for_the_reconciler_when_its_job_failed(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment
    job = Job.fetch(experiment.job_id, connection=redis_server.client())
    error = RuntimeError("database unreachable")

    experiment_job_failed(job, job.connection, RuntimeError, error, None)

    experiment.refresh_from_db()
    assert experiment.status == Status.CREATED


def test_it_records_a_registration_error_when_the_job_dies_while_registering(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    from experiments.services import experiment_execute
    from registry.services import registration_claim

    experiment = experiment_submit(config_text=make_config()).experiment
    job = Job.fetch(experiment.job_id, connection=redis_server.client())
    experiment_execute(experiment_id=experiment.pk, job_id=experiment.job_id)
    # This process gates it when the timeout fires (the callback runs in the work-horse).
    assert registration_claim(experiment_id=experiment.pk, owner=live_owner())

    timeout = JobTimeoutException("Task exceeded maximum timeout value (1800 seconds)")
    experiment_job_failed(job, job.connection, JobTimeoutException, timeout, None)

    experiment.refresh_from_db()
    assert experiment.status == Status.COMPLETED
    assert experiment.registration == "error"
    assert experiment.registration_message == f"timed out after {job.timeout} s"
    assert experiment.phase == ""
