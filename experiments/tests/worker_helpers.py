"""Configs and waits shared by the tests that run real workers."""

from __future__ import annotations

from collections.abc import Callable

import redis
from rq.job import Job

from experiments.models import Experiment, Status
from experiments.queue import job_id_for
from experiments.tests.rq_helpers import wait_for

# Slow enough on the small data to be caught mid-fit (tens of seconds).
SLOW_MODEL = {"model_type": "random_forest", "params": {"n_estimators": 5000}}


def slow_config(make_config: Callable[..., str], **overrides: object) -> str:
    return make_config(name="slow", **SLOW_MODEL, **overrides)


def wait_for_status(experiment_id: int, statuses: tuple[str, ...], timeout: float) -> Experiment:
    def reached() -> Experiment | None:
        experiment = Experiment.objects.get(pk=experiment_id)
        return experiment if experiment.status in statuses else None

    return wait_for(reached, timeout=timeout, what=f"experiment #{experiment_id} in {statuses}")


def wait_until_finished(experiment_id: int, timeout: float = 60) -> Experiment:
    return wait_for_status(
        experiment_id, (Status.COMPLETED, Status.FAILED, Status.CANCELLED), timeout
    )


def wait_until_registration_recorded(experiment_id: int, timeout: float = 60) -> Experiment:
    """Until a COMPLETED experiment's registration has an outcome."""

    def recorded() -> Experiment | None:
        experiment = Experiment.objects.get(pk=experiment_id)
        return experiment if experiment.registration not in ("pending", "registering") else None

    return wait_for(recorded, timeout=timeout, what=f"the registration of #{experiment_id}")


def wait_for_phase(experiment_id: int, phase: str, timeout: float = 60) -> Experiment:
    def reached() -> Experiment | None:
        experiment = Experiment.objects.get(pk=experiment_id)
        assert experiment.status in (Status.CREATED, Status.RUNNING), experiment.error_message
        return experiment if experiment.phase == phase else None

    return wait_for(reached, timeout=timeout, what=f"experiment #{experiment_id} {phase}")


def wait_for_job_end(client: redis.Redis, experiment_id: int, timeout: float = 60) -> Job:
    """Until the experiment's RQ job has ended: registration follows COMPLETED."""
    job = Job.fetch(job_id_for(experiment_id), connection=client)
    wait_for(
        lambda: job.get_status(refresh=True) in ("finished", "failed", "stopped"),
        timeout=timeout,
        what=f"job of experiment #{experiment_id} to end",
    )
    return job
