"""RQ jobs: thin functions that take an experiment id and call one service.

Enqueued only by experiments.queue.job_enqueue, under the job id
"experiment-<id>", with experiment_job_failed as the failure callback.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from django.db import close_old_connections
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from experiments.models import Experiment, Status
from experiments.queue import experiment_id_for
from experiments.services import experiment_fail, experiment_fail_running, failure_message
from experiments.services.reconcile import RedisView, run_death_reason
from mlplatform.owners import process_owner
from registry.services import experiment_run_and_register, registration_record_error


def experiment_run_job(experiment_id: int) -> str:
    """Claim, train, gate and register one experiment in the work-horse. A job
    that loses the claim (a duplicate delivery, a cancelled experiment) does
    nothing. Returns the experiment's final status for RQ's dashboard."""
    close_old_connections()
    job = get_current_job()
    try:
        experiment, _, _ = experiment_run_and_register(
            experiment_id=experiment_id,
            job_id=job.id if job else "",
            worker_name=(job.worker_name or "") if job else "",
        )
    finally:
        close_old_connections()
    return experiment.status if experiment is not None else "claim lost"


def experiment_job_failed(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ's failure callback. Called in the work-horse when the job raised:
    the experiment ends FAILED if this process holds it (a duplicate job
    never touches a run another process holds). A timeout fails it even if
    the job timed out before claiming it (a busy host), since queueing it
    again would only time out again. Called in whichever worker cleans the
    registries when RQ finds the job abandoned (its worker stopped
    maintaining it): the run is failed only if its holder is gone
    (experiments.services.reconcile.run_death_reason)."""
    experiment_id = experiment_id_for(job.id)
    if experiment_id is None:
        return
    try:
        if isinstance(exc_value, AbandonedJobError):
            _abandoned(experiment_id, connection)
            return
        owner = process_owner().token
        if isinstance(exc_value, JobTimeoutException):
            message = failure_message(exc_value, timeout_seconds=job.timeout)
            failed = experiment_fail(experiment_id=experiment_id, message=message, owner=owner)
        else:
            cause = failure_message(exc_value) if exc_value else "unknown error"
            message = f"job failed: {cause}"
            failed = experiment_fail_running(
                experiment_id=experiment_id, message=message, owner=owner
            )
        if not failed:
            # COMPLETED: the job died while gating and registering it.
            registration_record_error(experiment_id=experiment_id, message=message, owner=owner)
    finally:
        close_old_connections()


def _abandoned(experiment_id: int, connection: Any) -> None:
    experiment = Experiment.objects.filter(pk=experiment_id).first()
    if experiment is None:
        return
    if experiment.status == Status.COMPLETED:
        message = "worker died: RQ found the job abandoned (AbandonedJobError)"
        registration_record_error(experiment_id=experiment_id, message=message)
        return
    if experiment.status != Status.RUNNING:
        return
    reason = run_death_reason(experiment, RedisView(connection))
    if reason:
        experiment_fail_running(
            experiment_id=experiment_id,
            message=f"{reason}; RQ found the job abandoned",
            owner=experiment.run_owner,
        )
