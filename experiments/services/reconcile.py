"""experiment_reconcile: make the database and the queue agree.

A RUNNING experiment is failed only when the process holding it is known to
be gone (run_death_reason): its owner (mlplatform.owners) is a process of
this machine that no longer runs; or its job ended in RQ; or its worker's
Redis registration went silent; or, when none of that can be looked up
(another host, Redis down), it has been silent for longer than the lease,
EXPERIMENT_LEASE_SECONDS, which outlasts a database outage. A live holder
whose heartbeat could not be written (the database was down) keeps its run.

Every item is handled on its own: one that raises is logged with its id and
counted, and the pass goes on with the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rq.exceptions import StopRequested

from experiments import queue
from experiments.models import Experiment, Phase, Status
from experiments.services.lifecycle import experiment_fail_running
from experiments.services.submission import enqueue_if_created
from mlplatform.outages import first_line, is_database_outage
from mlplatform.owners import OwnerState, owner_label, owner_state

logger = logging.getLogger(__name__)


@dataclass
class Reconciliation:
    """What one reconciliation pass changed (registry.services.reconcile adds
    the registrations and gates it queued again), and the items it could not
    handle: (what, id, error)."""

    queue_available: bool = True
    enqueued: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    registrations_enqueued: list[int] = field(default_factory=list)
    registrations_retried: list[int] = field(default_factory=list)
    gates_enqueued: list[int] = field(default_factory=list)
    errors: list[tuple[str, int, str]] = field(default_factory=list)

    def each(self, what: str, ids: Iterable[int], handle: Callable[[int], object]) -> None:
        """handle(id) for every id; an item that raises is logged and counted
        and the rest go on. A lost database or queue ends the pass: every
        other item would fail the same way."""
        for item_id in ids:
            try:
                handle(item_id)
            except (queue.QueueUnavailable, StopRequested):
                raise  # StopRequested: RQ's warm shutdown, raised from its SIGTERM handler
            except Exception as error:
                if is_database_outage(error):
                    raise
                logger.exception("reconciliation: %s #%s could not be handled", what, item_id)
                self.errors.append((what, item_id, f"{type(error).__name__}: {first_line(error)}"))


class RedisView:
    """Redis as one pass sees it: the connection and, asked once, how long
    the server has been up (a worker's registration can only be missed once
    Redis has run long enough for a live worker to have written it)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._uptime: float | None = None

    @property
    def uptime_seconds(self) -> float:
        if self._uptime is None:
            self._uptime = queue.redis_uptime_seconds(connection=self.connection)
        return self._uptime


def experiment_reconcile() -> Reconciliation:
    """Make the database and the queue agree; the database is the truth.

    CREATED experiments submitted for the queue whose job is missing (never
    queued, or Redis lost its data) are queued. RUNNING experiments whose
    holder is gone (run_death_reason) are FAILED with the reason. Every
    change is a claim or an atomic unique enqueue, so any number of
    reconcilers may run at once, as often as they like. Runs whose death
    needs no Redis (an owner on this machine, a run with no job) are judged
    even while Redis is unreachable; every other change waits for Redis."""
    report = Reconciliation()
    redis_connection = queue.redis_connection()
    try:
        queue.queue_ping(connection=redis_connection)
    except queue.QueueUnavailable as error:
        logger.debug("reconciliation without the queue: %s", error)
        report.queue_available = False
        _fail_dead(report, None)
        return report
    try:
        view = RedisView(redis_connection)
        _enqueue_missing(report, redis_connection)
        _fail_dead(report, view)
    except queue.QueueUnavailable as error:
        logger.debug("reconciliation stopped: %s", error)
        report.queue_available = False
    return report


def _enqueue_missing(report: Reconciliation, redis_connection: Any) -> None:
    waiting = Experiment.objects.filter(status=Status.CREATED, phase=Phase.QUEUED)

    def enqueue(experiment_id: int) -> None:
        if enqueue_if_created(experiment_id, redis_connection):
            report.enqueued.append(experiment_id)

    report.each("experiment", waiting.order_by("pk").values_list("pk", flat=True), enqueue)


def _fail_dead(report: Reconciliation, view: RedisView | None) -> None:
    running = (
        Experiment.objects.filter(status=Status.RUNNING)
        .order_by("pk")
        .only("pk", "job_id", "worker_name", "heartbeat_at", "run_owner")
    )
    by_id = {experiment.pk: experiment for experiment in running}

    def judge(experiment_id: int) -> None:
        experiment = by_id[experiment_id]
        reason = run_death_reason(experiment, view)
        if reason and experiment_fail_running(
            experiment_id=experiment.pk, message=reason, owner=experiment.run_owner
        ):
            report.failed.append((experiment.pk, reason))

    report.each("experiment", list(by_id), judge)


def run_death_reason(experiment: Experiment, view: RedisView | None) -> str | None:
    """Why the holder of a RUNNING experiment is gone, or None while it may
    be alive. `view` None: Redis cannot be asked, so only what needs no
    Redis is judged (an owner on this machine, the lease)."""
    now = timezone.now()
    state = owner_state(experiment.run_owner)
    if state is OwnerState.ALIVE:
        return None  # a live process; its own timeout bounds it
    beat = experiment.heartbeat_at
    silence = f"no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "no heartbeat"
    if state is OwnerState.DEAD:
        recorded = _job_failure(experiment, view)
        if recorded:  # the job raised and said why (a database outage, say): that, not a death
            return f"{recorded} ({silence})"
        holder = "the process running it" if not experiment.job_id else "its work-horse"
        return f"worker died: {holder} ({owner_label(experiment.run_owner)}) stopped ({silence})"
    stale_before = now - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    if beat is not None and beat >= stale_before:
        return None
    if experiment.job_id and view is not None:
        reason = _job_death_reason(experiment, stale_before, view)
        if reason:
            return f"{reason} ({silence})"
    return _lease_expired(beat, now, silence)


def _job_failure(experiment: Experiment, view: RedisView | None) -> str:
    """The reason RQ recorded when the job itself raised, or ""."""
    if not experiment.job_id or view is None:
        return ""
    state = queue.job_state(experiment_id=experiment.pk, connection=view.connection)
    if state.status != queue.FAILED or not state.failure or _horse_gone(state.failure):
        return ""
    return job_end_reason(state)


def _horse_gone(failure: str) -> bool:
    return "Work-horse terminated" in failure or "AbandonedJobError" in failure


def _job_death_reason(experiment: Experiment, stale_before: datetime, view: RedisView) -> str:
    state = queue.job_state(experiment_id=experiment.pk, connection=view.connection)
    # RQ finds a job abandoned when its worker stopped tending it: the
    # work-horse may still run (on another host), so that alone is no death.
    abandoned = "AbandonedJobError" in state.failure
    if state.exists and not state.pending and not abandoned:
        return job_end_reason(state)
    worker_name = state.worker_name or experiment.worker_name
    seen = queue.worker_last_seen(worker_name=worker_name, connection=view.connection)
    forgotten = seen is None and view.uptime_seconds > settings.EXPERIMENT_STALE_SECONDS
    if forgotten or (seen is not None and seen < stale_before):
        return f"worker died: worker {worker_name} stopped sending heartbeats"
    return ""


def job_end_reason(state: queue.JobState) -> str:
    """What RQ says ended a job whose experiment is still RUNNING."""
    failure = state.failure
    if state.status == queue.FAILED and failure:
        if _horse_gone(failure):
            return f"worker died: {failure}"
        if "OperationalError" in failure or "InterfaceError" in failure:
            return f"its job failed: database unavailable: {failure.split(':', 1)[-1].strip()}"
        return f"its job failed: {failure}"
    return f"its job ended ({state.status}) without recording the outcome"


def _lease_expired(beat: datetime | None, now: datetime, silence: str) -> str | None:
    lease = settings.EXPERIMENT_LEASE_SECONDS
    if beat is not None and (now - beat).total_seconds() <= lease:
        return None
    return (
        f"presumed dead: silent for longer than its lease of {lease:,} s "
        f"(EXPERIMENT_LEASE_SECONDS), and its process cannot be checked from here ({silence})"
    )
