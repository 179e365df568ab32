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

from experiments.queue import experiment_id_for
from experiments.services import experiment_fail, experiment_fail_running, failure_message
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
    """RQ's failure callback. Called in the work-horse when the job raised, and
    in whichever worker cleans the registries when RQ finds the job abandoned
    (its worker died): the experiment, if still RUNNING, ends FAILED. A timeout
    fails it even if the job timed out before claiming it (a busy host), since
    queueing it again would only time out again."""
    experiment_id = experiment_id_for(job.id)
    if experiment_id is None:
        return
    timed_out = isinstance(exc_value, JobTimeoutException)
    if isinstance(exc_value, AbandonedJobError):
        message = "worker died: RQ found the job abandoned (AbandonedJobError)"
    elif isinstance(exc_value, JobTimeoutException):  # timed_out, said so that mypy sees it
        message = failure_message(exc_value, timeout_seconds=job.timeout)
    else:
        message = f"job failed: {failure_message(exc_value) if exc_value else 'unknown error'}"
    try:
        # A job that timed out before claiming its experiment would time out
        # again if queued again: fail it, CREATED or RUNNING.
        fail = experiment_fail if timed_out else experiment_fail_running
        if not fail(experiment_id=experiment_id, message=message):
            # COMPLETED: the job died while gating and registering it.
            registration_record_error(experiment_id=experiment_id, message=message)
    finally:
        close_old_connections()
