"""RQ jobs of the registry: thin functions that take an id and call one
service. They run on the training queue, under fixed job ids, so that a
request is gated (or an experiment registered) once however often it is
queued; the reconciler queues them again if Redis lost them.

- `gate-request-<id>`: gate a production request made from the web or the API;
- `register-experiment-<id>`: gate and register a COMPLETED experiment again
  (a retry from the web, or the reconciler finding one with no outcome).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from rq.exceptions import AbandonedJobError
from rq.job import Job

from experiments import queue
from experiments.services import failure_message
from mlplatform.owners import process_owner

logger = logging.getLogger(__name__)

GATE_JOB_PREFIX = "gate-request-"
REGISTER_JOB_PREFIX = "register-experiment-"


def gate_job_id(request_id: int) -> str:
    return f"{GATE_JOB_PREFIX}{request_id}"


def register_job_id(experiment_id: int) -> str:
    return f"{REGISTER_JOB_PREFIX}{experiment_id}"


def _id_after(prefix: str, job_id: str) -> int | None:
    suffix = job_id[len(prefix) :] if job_id.startswith(prefix) else ""
    return int(suffix) if suffix.isdigit() else None


# ----------------------------------------------------------------- enqueueing


def gate_job_enqueue(request_id: int, connection: Any = None, *, holder_gone: bool = False) -> bool:
    """holder_gone: the process that gated it is gone, so a job still marked
    started is stale and is replaced."""
    return queue.unique_job_enqueue(
        replace_started=holder_gone,
        job_id=gate_job_id(request_id),
        function="registry.jobs.stage_request_gate_job",
        args=(request_id,),
        timeout_seconds=settings.GATE_JOB_TIMEOUT,
        failure_callback="registry.jobs.stage_request_gate_job_failed",
        description=f"gate stage request #{request_id}",
        connection=connection,
    )


def register_job_enqueue(
    experiment_id: int, connection: Any = None, *, holder_gone: bool = False
) -> bool:
    return queue.unique_job_enqueue(
        replace_started=holder_gone,
        job_id=register_job_id(experiment_id),
        function="registry.jobs.experiment_register_job",
        args=(experiment_id,),
        timeout_seconds=settings.GATE_JOB_TIMEOUT,
        failure_callback="registry.jobs.experiment_register_job_failed",
        description=f"gate and register experiment #{experiment_id}",
        connection=connection,
    )


def _quietly(enqueue: Any, object_id: int, what: str) -> None:
    try:
        enqueue(object_id)
    except queue.QueueUnavailable as error:
        # The row says what is owed; the reconciler queues it once Redis is back.
        logger.warning("%s #%s recorded but not queued: %s", what, object_id, error)


def gate_job_enqueue_after_commit(request_id: int) -> None:
    transaction.on_commit(lambda: _quietly(gate_job_enqueue, request_id, "stage request"))


def register_job_enqueue_after_commit(experiment_id: int) -> None:
    transaction.on_commit(lambda: _quietly(register_job_enqueue, experiment_id, "registration"))


# ----------------------------------------------------------------------- jobs


def stage_request_gate_job(request_id: int) -> str:
    from registry.services import stage_request_gate

    close_old_connections()
    try:
        return stage_request_gate(request_id=request_id).status
    finally:
        close_old_connections()


def experiment_register_job(experiment_id: int) -> str:
    """A duplicate delivery that finds a live process registering the
    experiment does nothing, as a training job that loses its claim."""
    from experiments.models import Experiment
    from mlplatform.origin import Origin
    from registry.services import model_version_register
    from registry.services.registration import RegistrationBusy

    close_old_connections()
    try:
        try:
            model_version_register(experiment_id=experiment_id, origin=Origin.worker())
        except RegistrationBusy:
            return "claim lost"
        return Experiment.objects.get(pk=experiment_id).registration
    finally:
        close_old_connections()


# ---------------------------------------------------- failure callbacks (RQ)


def stage_request_gate_job_failed(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """The gate job died (timeout, killed work-horse, abandoned): the request
    gets a failed gate saying so, instead of gating for ever; only the gate
    this process held, or one whose holder is gone."""
    from registry.services import stage_request_gate_failed

    request_id = _id_after(GATE_JOB_PREFIX, job.id)
    if request_id is None:
        return
    message = failure_message(exc_value, timeout_seconds=job.timeout) if exc_value else "unknown"
    try:
        stage_request_gate_failed(
            request_id=request_id, message=message, owner=_callback_owner(exc_value)
        )
    finally:
        close_old_connections()


def experiment_register_job_failed(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    from registry.services import registration_record_error

    experiment_id = _id_after(REGISTER_JOB_PREFIX, job.id)
    if experiment_id is None:
        return
    message = failure_message(exc_value, timeout_seconds=job.timeout) if exc_value else "unknown"
    try:
        registration_record_error(
            experiment_id=experiment_id, message=message, owner=_callback_owner(exc_value)
        )
    finally:
        close_old_connections()


def _callback_owner(exc_value: BaseException | None) -> str:
    """Whose claim a failure callback may end: the work-horse's own when it
    runs there (the job raised); none when RQ found the job abandoned (the
    callback then runs in another worker, which ends only a claim whose
    holder is gone)."""
    if isinstance(exc_value, AbandonedJobError):
        return ""
    return process_owner().token


def registry_job_died(job_id: str, message: str) -> bool:
    """For the worker that saw a work-horse die: end what its registry job
    left open. True if the job was one of ours."""
    from registry.services import registration_record_error, stage_request_gate_failed

    request_id = _id_after(GATE_JOB_PREFIX, job_id)
    if request_id is not None:
        stage_request_gate_failed(request_id=request_id, message=message)
        return True
    experiment_id = _id_after(REGISTER_JOB_PREFIX, job_id)
    if experiment_id is not None:
        registration_record_error(experiment_id=experiment_id, message=message)
        return True
    return False
