"""Registrations and production gates whose process died are queued again,
by every worker's reconciliation (a private redis-server; real workers where
marked slow)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import cast
from unittest.mock import ANY

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.fixtures import Settings

from experiments.models import Experiment, Registration
from experiments.services import experiment_create, experiment_execute
from experiments.tests.rq_helpers import WorkerProcess, wait_for
from experiments.tests.worker_helpers import wait_until_registration_recorded
from mlplatform.origin import Channel, Origin
from mlplatform.reconcile import reconcile
from mlplatform.redis_server import RedisServer
from mlplatform.tests.factories import dead_owner, elsewhere_owner, live_owner
from registry.jobs import gate_job_id, register_job_id
from registry.models import ModelVersion, Stage, StageRequest
from registry.services import (
    model_version_register,
    registration_claim,
    registration_record_error,
    stage_request_create,
    stage_request_gate,
    stage_request_gate_failed,
)
from registry.services.stage_requests import stage_request_gate_claim

pytestmark = pytest.mark.django_db(transaction=True)
LONG_AGO = timedelta(minutes=10)


def queued(redis_server: RedisServer) -> list[str]:
    job_ids = redis_server.client().lrange("rq:queue:training", 0, -1)
    return [raw.decode() for raw in cast("list[bytes]", job_ids)]


@pytest.fixture
def unregistered(make_config: Callable[..., str]) -> Experiment:
    """COMPLETED ten minutes ago; its process died before it was registered."""
    experiment = experiment_create(config_text=make_config())
    experiment_execute(experiment_id=experiment.pk)
    Experiment.objects.filter(pk=experiment.pk).update(finished_at=timezone.now() - LONG_AGO)
    return Experiment.objects.get(pk=experiment.pk)


def test_it_queues_a_registration_that_never_started(
    unregistered: Experiment, queue_settings: Settings, redis_server: RedisServer
) -> None:
    report = reconcile()

    assert report.registrations_enqueued == [unregistered.pk]
    assert queued(redis_server) == [register_job_id(unregistered.pk)]
    assert reconcile().registrations_enqueued == []  # one job, however often it runs


def test_it_queues_a_registration_whose_holder_died(
    unregistered: Experiment, queue_settings: Settings, redis_server: RedisServer
) -> None:
    assert registration_claim(experiment_id=unregistered.pk, owner=dead_owner())
    Experiment.objects.filter(pk=unregistered.pk).update(
        registration_heartbeat_at=timezone.now() - LONG_AGO
    )

    assert reconcile().registrations_enqueued == [unregistered.pk]


def test_it_leaves_a_live_registration_and_recorded_outcomes_alone(
    unregistered: Experiment, queue_settings: Settings, redis_server: RedisServer
) -> None:
    assert registration_claim(experiment_id=unregistered.pk, owner=live_owner())
    report = reconcile()
    Experiment.objects.filter(pk=unregistered.pk).update(registration=Registration.ERROR)
    later = reconcile()

    assert report.registrations_enqueued == later.registrations_enqueued == []


def test_it_retries_a_registration_error_once_its_pause_is_over(
    unregistered: Experiment, queue_settings: Settings, redis_server: RedisServer
) -> None:
    assert registration_claim(experiment_id=unregistered.pk, owner=live_owner())
    assert registration_record_error(
        experiment_id=unregistered.pk, message="OSError: disk full", owner=live_owner()
    )
    unregistered.refresh_from_db()
    assert unregistered.registration == Registration.ERROR
    assert unregistered.registration_attempts == 1
    assert unregistered.registration_retry_at is not None
    pause = (unregistered.registration_retry_at - timezone.now()).total_seconds()
    assert 170 < pause <= 180  # REGISTRATION_RETRY_SECONDS after the first failure
    redis_server.client().flushall()

    assert reconcile().registrations_retried == []  # not yet

    Experiment.objects.filter(pk=unregistered.pk).update(registration_retry_at=timezone.now())
    report = reconcile()

    assert report.registrations_retried == [unregistered.pk]
    assert queued(redis_server) == [register_job_id(unregistered.pk)]
    unregistered.refresh_from_db()
    assert unregistered.registration == Registration.PENDING
    assert registration_claim(experiment_id=unregistered.pk, owner=live_owner())
    assert Experiment.objects.get(pk=unregistered.pk).registration_attempts == 2


def test_it_stops_retrying_after_the_last_attempt(
    unregistered: Experiment, queue_settings: Settings, redis_server: RedisServer
) -> None:
    pauses = []
    for _ in range(3):  # REGISTRATION_MAX_ATTEMPTS
        assert registration_claim(experiment_id=unregistered.pk, owner=live_owner())
        registration_record_error(experiment_id=unregistered.pk, message="x", owner=live_owner())
        unregistered.refresh_from_db()
        retry_at = unregistered.registration_retry_at
        pauses.append(round((retry_at - timezone.now()).total_seconds()) if retry_at else None)

    assert pauses == [180, 540, None]
    assert unregistered.registration_attempts == 3
    assert reconcile().registrations_retried == []
    unregistered.refresh_from_db()
    assert unregistered.registration == Registration.ERROR


def test_it_leaves_a_live_claim_alone_when_a_duplicate_register_job_fails(
    unregistered: Experiment, queue_settings: Settings, redis_server: RedisServer
) -> None:
    """A duplicate register job finds the registration held by a live
    process: it does nothing, and its failure callback (a job that raised
    anyway) never writes `error` over the live claim."""
    from types import SimpleNamespace

    from registry import jobs

    assert registration_claim(experiment_id=unregistered.pk, owner=elsewhere_owner())

    assert jobs.experiment_register_job(unregistered.pk) == "claim lost"
    job = SimpleNamespace(id=register_job_id(unregistered.pk), timeout=1800)
    jobs.experiment_register_job_failed(job, None, RuntimeError, RuntimeError("x"), None)  # type: ignore[arg-type]

    unregistered.refresh_from_db()
    assert unregistered.registration == Registration.REGISTERING
    assert unregistered.registration_owner == elsewhere_owner()


@pytest.fixture
def gating(
    registered: Callable[..., ModelVersion], experimenter: User
) -> Callable[..., StageRequest]:
    """A production request left gating (its gate job lost), made through `channel`."""

    def make(channel: Channel, age: timedelta = LONG_AGO) -> StageRequest:
        request = stage_request_create(
            model_version=registered(),
            to_stage=Stage.PRODUCTION,
            user=experimenter,
            reason="ship",
            origin=Origin(channel),
            gate_in_background=True,
        )
        StageRequest.objects.filter(pk=request.pk).update(requested_at=timezone.now() - age)
        return request

    return make


def test_it_queues_a_gate_lost_with_redis(
    gating: Callable[..., StageRequest], queue_settings: Settings, redis_server: RedisServer
) -> None:
    request = gating(Channel.WEB)
    redis_server.client().flushall()

    report = reconcile()

    assert report.gates_enqueued == [request.pk]
    assert queued(redis_server) == [gate_job_id(request.pk)]


def test_it_gives_a_command_line_gate_time_to_finish(
    gating: Callable[..., StageRequest], queue_settings: Settings, redis_server: RedisServer
) -> None:
    gating(Channel.CLI, age=timedelta(minutes=1))
    redis_server.client().flushall()

    assert reconcile().gates_enqueued == []


def test_it_leaves_a_live_gate_alone_and_queues_one_whose_holder_died(
    gating: Callable[..., StageRequest], queue_settings: Settings, redis_server: RedisServer
) -> None:
    live = gating(Channel.WEB)
    dead = gating(Channel.WEB)
    long_ago = timezone.now() - LONG_AGO
    assert stage_request_gate_claim(request_id=live.pk, owner=elsewhere_owner())
    assert stage_request_gate_claim(request_id=dead.pk, owner=dead_owner())
    StageRequest.objects.filter(pk__in=(live.pk, dead.pk)).update(gate_heartbeat_at=long_ago)
    queue_settings.EXPERIMENT_LEASE_SECONDS = 3600  # the live one's silence is within it
    redis_server.client().flushall()

    assert reconcile().gates_enqueued == [dead.pk]
    # A duplicate gate job for the live one does nothing and records nothing.
    assert stage_request_gate(request_id=live.pk).status == StageRequest.Status.GATING
    assert stage_request_gate_failed(
        request_id=live.pk, message="x", owner=live_owner()
    ).status == (StageRequest.Status.GATING)
    assert StageRequest.objects.get(pk=live.pk).gate_owner == elsewhere_owner()


@pytest.mark.slow
def test_a_worker_registers_what_the_reconciler_queued(
    unregistered: Experiment,
    queue_settings: Settings,
    redis_server: RedisServer,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker()

    experiment = wait_until_registration_recorded(unregistered.pk, timeout=90)

    assert experiment.registration == Registration.REGISTERED
    assert ModelVersion.objects.get(experiment=experiment).stage == Stage.STAGING


@pytest.mark.slow
def test_a_worker_gates_a_request_made_on_the_web(
    registered: Callable[..., ModelVersion],
    experimenter: User,
    queue_settings: Settings,
    redis_server: RedisServer,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker()

    request = stage_request_create(
        model_version=registered(),
        to_stage=Stage.PRODUCTION,
        user=experimenter,
        reason="ship",
        origin=Origin.web(),
        gate_in_background=True,
    )

    def gated() -> StageRequest | None:
        current = StageRequest.objects.get(pk=request.pk)
        return current if current.status != StageRequest.Status.GATING else None

    done = wait_for(gated, timeout=60, what="the gate job")
    assert done.status == StageRequest.Status.PENDING
    assert done.gate is not None
    assert done.gate.passed


@pytest.mark.slow
def test_a_worker_retries_a_registration_error_until_it_registers(
    production_version: ModelVersion,
    trained: Callable[..., Experiment],
    queue_settings: Settings,
    redis_server: RedisServer,
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
) -> None:
    """The production model's file is missing when the candidate is gated
    (a storage outage): the registration ends in `error`; once the file is
    back, the reconciler's retry registers it, with no one pressing a button."""
    from pathlib import Path

    stored = Path(settings.ARTIFACT_ROOT) / production_version.experiment.artifact_path
    hidden = stored.with_name("hidden.skops")
    stored.rename(hidden)
    candidate = trained(name="candidate")
    assert model_version_register(experiment_id=candidate.pk) == (ANY, None)
    candidate.refresh_from_db()
    assert candidate.registration == Registration.ERROR
    assert candidate.registration_attempts == 1
    hidden.rename(stored)
    Experiment.objects.filter(pk=candidate.pk).update(registration_retry_at=timezone.now())

    start_worker()

    def second_attempt_recorded() -> Experiment | None:
        current = Experiment.objects.get(pk=candidate.pk)
        done = current.registration_attempts == 2 and not current.is_registering
        return current if done else None

    retried = wait_for(second_attempt_recorded, timeout=90, what="the retry")
    assert retried.registration == Registration.REGISTERED, retried.registration_message
