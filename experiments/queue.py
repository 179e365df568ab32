"""The training queue in Redis, seen from the database's side: one job per
experiment under a fixed id, and what RQ knows about that job and its worker.

No database writes here; experiments.services decides what the answers mean.
Every Redis failure surfaces as QueueUnavailable, with a short connect
timeout, so that a web request is never held up by a dead Redis.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import django_rq
import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from rq import Callback, Queue
from rq.command import send_stop_job_command
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.executions import ExecutionRegistry
from rq.job import Job, JobStatus
from rq.registry import BaseRegistry
from rq.results import Result
from rq.utils import utcparse
from rq.worker import Worker

QUEUE_NAME = "training"
JOB_ID_PREFIX = "experiment-"
JOB_FUNCTION = "experiments.jobs.experiment_run_job"
JOB_FAILURE_CALLBACK = "experiments.jobs.experiment_job_failed"
# A job whose status is one of these will still run (or is running): never add a second.
PENDING_STATUSES = frozenset(
    status.value
    for status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
)
STARTED = JobStatus.STARTED.value
FAILED = JobStatus.FAILED.value
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
logger = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """Redis could not be reached (or answered too slowly)."""


@dataclass(frozen=True)
class JobState:
    """What RQ knows about an experiment's job; status None means no such job."""

    job_id: str
    status: str | None
    worker_name: str = ""
    failure: str = ""

    @property
    def exists(self) -> bool:
        return self.status is not None

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATUSES


def job_id_for(experiment_id: int) -> str:
    return f"{JOB_ID_PREFIX}{experiment_id}"


def experiment_id_for(job_id: str) -> int | None:
    if not job_id.startswith(JOB_ID_PREFIX):
        return None
    suffix = job_id[len(JOB_ID_PREFIX) :]
    return int(suffix) if suffix.isdigit() else None


def redis_connection() -> redis.Redis:
    """A client that gives up fast: connection refused fails at once, an
    unreachable host after REDIS_CONNECT_TIMEOUT_SECONDS, with one quick retry."""
    return redis.Redis.from_url(
        settings.RQ_QUEUES[QUEUE_NAME]["URL"],
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
    )


def training_queue(connection: redis.Redis | None = None) -> Queue:
    return django_rq.get_queue(QUEUE_NAME, connection=connection or redis_connection())


@contextlib.contextmanager
def redis_errors_as_unavailable() -> Iterator[None]:
    try:
        yield
    except REDIS_ERRORS as error:
        raise QueueUnavailable(f"the training queue (Redis) is unavailable: {error}") from error


def _latest_failure(job: Job) -> str:
    result = job.latest_result()
    if result is None or result.type != Result.Type.FAILED or not result.exc_string:
        return ""
    lines = [line.strip() for line in result.exc_string.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _job_state(job_id: str, connection: redis.Redis) -> JobState:
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return JobState(job_id=job_id, status=None)
    raw_status = job.get_status(refresh=False)
    if raw_status is None:  # a hash holding only a stray heartbeat field
        return JobState(job_id=job_id, status=None)
    status = JobStatus(raw_status).value
    failure = _latest_failure(job) if status == FAILED else ""
    return JobState(
        job_id=job_id,
        status=status,
        worker_name=job.worker_name or "",
        failure=failure,
    )


def job_state(*, experiment_id: int, connection: redis.Redis | None = None) -> JobState:
    connection = connection or redis_connection()
    with redis_errors_as_unavailable():
        return _job_state(job_id_for(experiment_id), connection)


def job_enqueue(
    *, experiment_id: int, timeout_seconds: int, connection: redis.Redis | None = None
) -> bool:
    """Add the experiment's job unless one that will still run exists.
    True when this call added it."""
    return unique_job_enqueue(
        job_id=job_id_for(experiment_id),
        function=JOB_FUNCTION,
        args=(experiment_id,),
        timeout_seconds=timeout_seconds,
        failure_callback=JOB_FAILURE_CALLBACK,
        description=f"train experiment #{experiment_id}",
        connection=connection,
    )


def unique_job_enqueue(
    *,
    job_id: str,
    function: str,
    args: tuple[object, ...],
    timeout_seconds: int,
    failure_callback: str,
    description: str,
    connection: redis.Redis | None = None,
    replace_started: bool = False,
) -> bool:
    """Add a job on the training queue under a fixed id, unless one that will
    still run exists. True when this call added it. RQ's unique enqueue is
    atomic, so two callers racing here add one job between them.
    replace_started: the caller knows the process that started the existing
    job is gone (its claim's holder is dead), so a STARTED job is stale."""
    connection = connection or redis_connection()
    with redis_errors_as_unavailable():
        state = _job_state(job_id, connection)
        if state.pending and not (replace_started and state.status == STARTED):
            return False
        if state.exists:  # a finished or failed earlier attempt: replace it
            job_discard(job_id=job_id, connection=connection)
        try:
            training_queue(connection).enqueue_call(
                function,
                args=args,
                job_id=job_id,
                timeout=timeout_seconds,
                result_ttl=settings.TRAINING_JOB_RESULT_TTL,
                failure_ttl=settings.TRAINING_JOB_RESULT_TTL,
                on_failure=Callback(failure_callback),
                description=description,
                unique=True,
            )
        except DuplicateJobError:
            return False
    return True


def job_discard(*, job_id: str, connection: redis.Redis) -> None:
    """Remove a job that will not run (again) from Redis, whatever state its
    keys are in. RQ's own delete raises when a part it expects is missing
    ("Execution ... not found in Redis" after a flush, a re-queue and a
    killed worker); then its keys and registry entries are removed directly,
    so that one broken entry never blocks queueing the work again."""
    try:
        Job.fetch(job_id, connection=connection).delete()
        return
    except REDIS_ERRORS:
        raise
    except NoSuchJobError:
        return
    except Exception as error:  # RQ's internal bookkeeping, whatever it raises
        logger.warning("job %s: RQ could not delete it (%s); removing its keys", job_id, error)
    queue = training_queue(connection)
    with connection.pipeline() as pipeline:
        pipeline.lrem(queue.key, 0, job_id)
        for registry in _registries(queue):
            for member in connection.zrange(registry.key, 0, -1):
                text = member.decode() if isinstance(member, bytes) else str(member)
                if text == job_id or text.startswith(f"{job_id}:"):
                    pipeline.zrem(registry.key, text)
        keys = Job(id=job_id, connection=connection)
        result_key = Result.get_key(job_id)  # type: ignore[no-untyped-call]  # rq leaves it bare
        executions_key = ExecutionRegistry(job_id, connection).key
        pipeline.delete(
            keys.key, keys.dependents_key, keys.dependencies_key, result_key, executions_key
        )
        pipeline.execute()


def _registries(queue: Queue) -> list[BaseRegistry]:
    return [
        queue.started_job_registry,
        queue.finished_job_registry,
        queue.failed_job_registry,
        queue.deferred_job_registry,
        queue.scheduled_job_registry,
        queue.canceled_job_registry,
    ]


def redis_uptime_seconds(*, connection: redis.Redis | None = None) -> float:
    connection = connection or redis_connection()
    with redis_errors_as_unavailable():
        return float(connection.info("server").get("uptime_in_seconds", 0))


def job_state_by_id(*, job_id: str, connection: redis.Redis | None = None) -> JobState:
    connection = connection or redis_connection()
    with redis_errors_as_unavailable():
        return _job_state(job_id, connection)


def job_stop(*, experiment_id: int, connection: redis.Redis | None = None) -> str:
    """Take a queued job off the queue, or stop a running one. Returns what was done."""
    connection = connection or redis_connection()
    job_id = job_id_for(experiment_id)
    with redis_errors_as_unavailable():
        state = _job_state(job_id, connection)
        if state.status == STARTED and state.worker_name:
            with contextlib.suppress(InvalidJobOperation, NoSuchJobError):
                send_stop_job_command(connection, job_id)
                return "stopped"
        if state.exists and state.status != STARTED:
            job_discard(job_id=job_id, connection=connection)
            return "removed"
    return "none"


def worker_last_seen(*, worker_name: str, connection: redis.Redis | None = None) -> datetime | None:
    """When the named worker last sent its heartbeat to Redis; None when RQ
    has forgotten it (the worker's key expired or Redis lost its data)."""
    connection = connection or redis_connection()
    with redis_errors_as_unavailable():
        raw = connection.hget(Worker.redis_worker_namespace_prefix + worker_name, "last_heartbeat")
    if not raw:
        return None
    return utcparse(raw.decode() if isinstance(raw, bytes) else raw)


def queue_ping(*, connection: redis.Redis | None = None) -> None:
    connection = connection or redis_connection()
    with redis_errors_as_unavailable():
        connection.ping()
