"""The RQ worker class for the training queue (settings.RQ["WORKER_CLASS"]):

    python manage.py rqworker training

It is RQ's forking Worker with these additions:
- no database connection crosses the fork: the parent closes its connections
  before forking each work-horse (the job opens and closes its own);
- the database and the queue are reconciled every EXPERIMENT_RECONCILE_SECONDS,
  while idle (maintenance) and while a job runs (the parent's monitoring loop);
- a work-horse that dies (SIGKILL, the OOM killer) fails its experiment at once,
  with RQ's reason;
- a Redis outage is waited out wherever the worker is idle (RQ itself only
  retries inside its blocking pop), with at most 10 s between attempts, and a
  worker started while Redis is down waits for it instead of exiting;
- each work-horse runs under the memory limit (TRAINING_MEMORY_LIMIT_MB), so
  a run that needs more fails with that reason while the worker lives on,
  and under the thread budget (experiments/threads.py), so that the workers
  on one host share its CPUs instead of each taking all of them;
- the worker imports the training stack once, before it registers, and its
  work-horses inherit it: nothing heavy runs between a job's start (when its
  timeout starts counting) and its claim;
- a worker started under the name of a worker that died (SIGKILL, a crashed
  host: RQ keeps its registration for minutes) takes the name over once the
  old one is known dead, instead of refusing to start;
- a database or Redis outage during reconciliation is logged once when it
  starts and once when it ends, and never ends the worker.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Mapping
from typing import Any

import redis
from django.conf import settings
from django.db import connections
from rq import worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.utils import now
from rq.worker import Worker

from experiments.limits import memory_limit_apply
from experiments.queue import REDIS_ERRORS, experiment_id_for
from experiments.services import experiment_fail_dead_holder
from experiments.services.execution import training_stack_preload
from experiments.threads import thread_budget, thread_budget_apply
from mlplatform.owners import dead_worker_reason, this_machine
from mlplatform.reconcile import Outages, reconcile_guarded

MAX_REDIS_WAIT_SECONDS = 10.0
log = logging.getLogger("rq.worker")


class RedisOutage:
    """This worker's view of Redis: one log line when it goes away, one when
    it answers again, however many attempts fail in between."""

    def __init__(self, worker_name: str) -> None:
        self.worker_name = worker_name
        self.since: float | None = None

    def failed(self, error: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.error("Worker %s: Redis unavailable (%s); waiting for it", self.worker_name, error)

    def answered(self) -> None:
        if self.since is not None:
            lasted = time.monotonic() - self.since
            self.since = None
            log.warning("Worker %s: Redis is back after %.0f s", self.worker_name, lasted)


def wait_for_redis(connection: redis.Redis, outage: RedisOutage) -> None:
    """Return once Redis answers a PING, retrying with a growing pause."""
    wait = 1.0
    while True:
        try:
            connection.ping()
            outage.answered()
            return
        except REDIS_ERRORS as error:
            outage.failed(error)
            time.sleep(wait)
            wait = min(wait * 2, MAX_REDIS_WAIT_SECONDS)


class TrainingWorker(Worker):
    max_connection_wait_time = MAX_REDIS_WAIT_SECONDS  # RQ's own retry in its blocking pop

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # RQ names its Redis connection as it constructs the worker, and exits
        # if Redis is down (e.g. the host started the workers first): wait.
        # Only a worker about to work: RQ also builds workers to describe them.
        if kwargs.get("prepare_for_work", True) and kwargs.get("connection") is not None:
            starting = RedisOutage(kwargs.get("name") or "(starting)")
            wait_for_redis(kwargs["connection"], starting)
        kwargs.setdefault("maintenance_interval", settings.EXPERIMENT_RECONCILE_SECONDS)
        # The parent's Redis heartbeat while a job runs; the reconciler judges
        # a worker by it, so it must beat well within EXPERIMENT_STALE_SECONDS.
        kwargs.setdefault(
            "job_monitoring_interval", max(1, min(settings.EXPERIMENT_HEARTBEAT_SECONDS, 30))
        )
        super().__init__(*args, **kwargs)
        self._reconciled_at = 0.0
        self._outages = Outages(f"Worker {self.name}", self.maintenance_interval)
        self._redis = RedisOutage(self.name)

    def register_birth(self) -> None:
        """RQ refuses to start under a name whose registration has no death
        recorded; a worker killed by SIGKILL (or on a crashed host) leaves one
        for worker_ttl + 60 s. Once the old worker is known dead (this host
        and its pid gone, or silent past EXPERIMENT_STALE_SECONDS), its
        registration is ended and the name taken over; what it held is left to
        the reconciliation that runs as this worker starts. A live worker's
        name is never taken."""
        # Loaded once here, before the worker registers (so before it takes
        # a job), and inherited by every work-horse: a job no longer spends
        # its first second importing scikit-learn, and nothing heavy runs
        # between a job's start and its claim.
        training_stack_preload()
        with self.connection.pipeline() as pipeline:
            # WATCH: two workers taking over the same dead name at once, one wins.
            pipeline.watch(self.key)  # type: ignore[no-untyped-call]  # redis leaves it bare
            previous = pipeline.hgetall(self.key)
            took_over = bool(previous) and b"death" not in previous
            if took_over:
                self._take_over(previous)
            self.birth_date = self.last_heartbeat = now()
            registration: dict[Any, Any] = self.serialize()
            pipeline.multi()
            pipeline.delete(self.key)
            if took_over:
                pipeline.delete(self.executions_key)  # what the dead one was running
            pipeline.hset(self.key, mapping=registration)
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            try:
                pipeline.execute()
            except redis.WatchError:
                raise ValueError(
                    f"another worker registered the name {self.name!r} at the same moment"
                ) from None

    def _take_over(self, previous: Mapping[bytes | str, bytes | str]) -> None:
        reason = dead_worker_reason(previous, stale_seconds=settings.EXPERIMENT_STALE_SECONDS)
        if not reason:
            raise ValueError(
                f"There exists an active worker named {self.name!r} already "
                f"({_describe(previous)}); choose another --name"
            )
        self.log.warning(
            "Worker %s: the previous worker of this name is gone (%s); taking over the name",
            self.name,
            reason,
        )

    def serialize(self) -> dict[str, Any]:
        # The machine (boot id and pid namespace) tells a successor whether the
        # pid of a dead namesake can be looked up where it runs.
        return {**super().serialize(), "machine": this_machine()}

    @property
    def dequeue_timeout(self) -> int:
        # Wake from the blocking pop in time for the next maintenance run.
        return max(1, min(self.worker_ttl - 15, int(self.maintenance_interval)))

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        connections.close_all()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        # In the forked horse only: the worker itself stays unlimited. The
        # thread budget is counted now, when the job starts, against the
        # workers alive at that moment.
        memory_limit_apply()
        thread_budget_apply(thread_budget(in_worker=True))
        training_stack_preload()
        super().main_work_horse(job, queue)

    # RQ retries a lost Redis only inside its blocking pop; a Redis error in the
    # rest of its idle loop ends the worker. These overrides wait instead.

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except REDIS_ERRORS as error:
                self._redis.failed(error)
                wait_for_redis(self.connection, self._redis)

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except REDIS_ERRORS as error:
            self._redis.failed(error)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        try:
            if pipeline is None and not self.connection.hexists(self.key, "birth"):
                self._register_again()
            super().heartbeat(timeout, pipeline)
            if pipeline is None:
                self._redis.answered()
        except REDIS_ERRORS as error:
            self._redis.failed(error)

    def _register_again(self) -> None:
        """Redis lost this worker's registration (a restart without its data,
        a FLUSHALL): write it again whole, so that it names this process (its
        pid and host, which tell a live worker from a dead one of the same
        name) rather than holding a bare heartbeat."""
        self.log.warning("Worker %s: Redis lost this worker's registration; registering again",
                         self.name)  # fmt: skip
        with self.connection.pipeline() as pipeline:
            registration: dict[Any, Any] = self.serialize()
            pipeline.hset(self.key, mapping=registration)
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()

    def run_maintenance_tasks(self) -> None:
        try:
            # rq leaves run_maintenance_tasks and handle_work_horse_killed unannotated.
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except REDIS_ERRORS as error:
            self._redis.failed(error)
            return
        self.reconcile()

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_ERRORS as error:
            # The horse trains on regardless; keep watching it rather than quit.
            self._redis.failed(error)
            return
        if time.monotonic() - self._reconciled_at >= self.maintenance_interval:
            self.reconcile()
            # The pass may have waited on the database: beat again at once, so
            # that others never read this busy worker's silence as its death.
            self.heartbeat(self.get_heartbeat_ttl(job))

    def reconcile(self) -> None:
        self._reconciled_at = time.monotonic()
        try:
            report = reconcile_guarded(self._outages)
        except StopRequested:
            # SIGTERM while idle: RQ raises this from its signal handler
            # wherever the worker is; swallowed, the worker would ignore the
            # warm shutdown and run on until killed.
            raise
        except Exception:
            # A bug must not end the worker; the next round retries.
            self.log.exception("Worker %s: reconciliation failed", self.name)
            return
        finally:
            connections.close_all()
        if report is None:
            return
        for experiment_id in report.enqueued:
            self.log.info("Worker %s: queued experiment #%s again", self.name, experiment_id)
        for experiment_id, reason in report.failed:
            self.log.warning("Worker %s: experiment #%s %s", self.name, experiment_id, reason)
        for experiment_id in report.registrations_enqueued:
            self.log.info(
                "Worker %s: queued the registration of #%s again", self.name, experiment_id
            )
        for experiment_id in report.registrations_retried:
            self.log.info(
                "Worker %s: trying the registration of #%s again", self.name, experiment_id
            )
        for request_id in report.gates_enqueued:
            self.log.info("Worker %s: queued the gate of request #%s again", self.name, request_id)
        if report.errors:
            self.log.warning(
                "Worker %s: %s item(s) could not be reconciled", self.name, len(report.errors)
            )

    def handle_work_horse_killed(self, job: Job, retpid: Any, ret_val: Any, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)  # type: ignore[no-untyped-call]
        from registry.jobs import registry_job_died
        from registry.services import registration_record_error

        message = horse_death_message(job, ret_val)
        experiment_id = experiment_id_for(job.id)
        try:
            if experiment_id is None:
                registry_job_died(job.id, message)
                return
            # Dead while training, or (COMPLETED) while gating and registering;
            # only the claims of the dead work-horse, never a live holder's.
            if not experiment_fail_dead_holder(experiment_id=experiment_id, message=message):
                registration_record_error(experiment_id=experiment_id, message=message)
        except StopRequested:
            raise
        except Exception:
            self.log.exception("Worker %s: could not record the death of %s", self.name, job.id)
        finally:
            connections.close_all()


def horse_death_message(job: Job, wait_status: int | None) -> str:
    running_for = (now() - job.started_at).total_seconds() if job.started_at else 0.0
    if job.timeout and 0 < job.timeout < running_for:
        return f"timed out after {job.timeout} s (the work-horse did not stop and was killed)"
    how = f"waitpid returned {wait_status}"
    if wait_status is not None and os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        how = f"killed by signal {number} ({signal.Signals(number).name})"
        if number == signal.SIGKILL:
            how += ", e.g. by the out-of-memory killer"
    return f"worker died: Work-horse terminated unexpectedly, {how}"


def _describe(registration: Mapping[bytes | str, bytes | str]) -> str:
    def field(name: str) -> str:
        value = registration.get(name.encode(), b"?")
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    return f"pid {field('pid')} on {field('hostname')}, last heartbeat {field('last_heartbeat')}"
