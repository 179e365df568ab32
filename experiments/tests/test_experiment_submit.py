"""experiment_submit against a private redis-server (no workers running)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from pytest_django.fixtures import Settings
from rq.job import Job

from experiments.models import Experiment, Phase, Status
from experiments.queue import JOB_FUNCTION, job_id_for
from experiments.services import experiment_enqueue, experiment_start, experiment_submit
from mlplatform.redis_server import RedisServer
from mlplatform.tests.factories import live_owner

pytestmark = pytest.mark.django_db(transaction=True)


def queued_job_ids(redis_server: RedisServer) -> list[str]:
    job_ids = redis_server.client().lrange("rq:queue:training", 0, -1)
    return [raw.decode() for raw in cast("list[bytes]", job_ids)]


def test_it_records_a_created_experiment_and_queues_its_job(
    make_config: Callable[..., str],
    queue_settings: Settings,
    redis_server: RedisServer,
    django_user_model: type[User],
) -> None:
    # A plain user: transactional tests flush the role groups the migrations made.
    erin = django_user_model.objects.create_user(username="erin")

    submission = experiment_submit(config_text=make_config(), user=erin)

    experiment = Experiment.objects.get()
    assert submission.experiment == experiment
    assert submission.enqueued
    assert (
        submission.message
        == f"Experiment #{experiment.pk} is queued; a worker will start it shortly."
    )
    assert experiment.status == Status.CREATED
    assert experiment.phase == Phase.QUEUED
    assert experiment.source == "web"
    assert experiment.created_by == erin
    assert experiment.enqueued_at is not None
    assert experiment.job_id == f"experiment-{experiment.pk}"
    assert queued_job_ids(redis_server) == [experiment.job_id]
    job = Job.fetch(experiment.job_id, connection=redis_server.client())
    assert job.func_name == JOB_FUNCTION
    assert job.args == (experiment.pk,)
    assert job.kwargs == {}


def test_it_gives_the_job_the_timeout_of_the_config(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    config = make_config(extra={"run": {"timeout_seconds": 123}})

    experiment = experiment_submit(config_text=config).experiment

    assert experiment.timeout_seconds == 123
    assert Job.fetch(job_id_for(experiment.pk), connection=redis_server.client()).timeout == 123


def test_it_queues_only_after_the_transaction_commits(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    with transaction.atomic():
        submission = experiment_submit(config_text=make_config())
        assert queued_job_ids(redis_server) == []
        assert not submission.enqueued
        assert "queued when the transaction commits" in submission.message

    assert queued_job_ids(redis_server) == [job_id_for(submission.experiment.pk)]


def test_it_records_the_experiment_and_says_so_when_redis_is_down(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    redis_server.stop()
    started = time.monotonic()

    submission = experiment_submit(config_text=make_config())

    assert time.monotonic() - started < 5
    experiment = Experiment.objects.get()
    assert not submission.enqueued
    assert submission.message == (
        f"The queue is unavailable right now; experiment #{experiment.pk} is recorded "
        "and will run when the queue is back."
    )
    assert experiment.status == Status.CREATED
    assert experiment.phase == Phase.QUEUED
    assert experiment.enqueued_at is None


def test_it_never_adds_a_second_job_for_the_same_experiment(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    experiment = experiment_submit(config_text=make_config()).experiment

    assert experiment_enqueue(experiment_id=experiment.pk)
    assert experiment_enqueue(experiment_id=experiment.pk)

    assert queued_job_ids(redis_server) == [job_id_for(experiment.pk)]


def test_it_counts_an_experiment_a_worker_already_took_as_queued(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    # The reconciler may queue a just-committed experiment, and a worker start
    # it, before the submitting request's own enqueue runs: that is not an outage.
    experiment = experiment_submit(config_text=make_config()).experiment
    redis_server.client().delete("rq:queue:training")
    assert experiment_start(experiment_id=experiment.pk, owner=live_owner())

    assert experiment_enqueue(experiment_id=experiment.pk)

    assert queued_job_ids(redis_server) == []
    assert Experiment.objects.get().status == Status.RUNNING


def test_it_refuses_an_invalid_config_and_writes_nothing(
    make_config: Callable[..., str], queue_settings: Settings, redis_server: RedisServer
) -> None:
    with pytest.raises(ValidationError) as error:
        experiment_submit(config_text=make_config(extra={"thresold": 0.4}))

    assert "thresold" in " ".join(error.value.messages)
    assert not Experiment.objects.exists()
    assert queued_job_ids(redis_server) == []
