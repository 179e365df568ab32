"""experiment_reconcile: make the database and the queue agree."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from experiments import queue
from experiments.models import Experiment, Phase, Status
from experiments.services.lifecycle import experiment_fail_running
from experiments.services.submission import enqueue_if_created

logger = logging.getLogger(__name__)


@dataclass
class Reconciliation:
    """What one reconciliation pass changed (registry.services.reconcile adds
    the registrations and gates it queued again)."""

    queue_available: bool = True
    enqueued: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    registrations_enqueued: list[int] = field(default_factory=list)
    gates_enqueued: list[int] = field(default_factory=list)


def experiment_reconcile() -> Reconciliation:
    """Make the database and the queue agree; the database is the truth.

    CREATED experiments submitted for the queue whose job is missing (never
    queued, or Redis lost its data) are queued. RUNNING experiments whose
    heartbeat is stale and whose job or worker is gone are FAILED with the
    reason. Every change is a claim or an atomic unique enqueue, so any
    number of reconcilers may run at once, as often as they like. A silent run
    of `run_experiment` (no job: its death needs no Redis) is failed even while
    Redis is unreachable; every other change waits for Redis, since a silent
    worker cannot be told from a silent queue."""
    report = Reconciliation()
    _fail_dead_in_process_runs(report)
    redis_connection = queue.redis_connection()
    try:
        queue.queue_ping(connection=redis_connection)
        _enqueue_missing(report, redis_connection)
        _fail_dead(report, redis_connection)
    except queue.QueueUnavailable as error:
        logger.warning("reconciliation stopped: %s", error)
        report.queue_available = False
    return report


def _fail_dead_in_process_runs(report: Reconciliation) -> None:
    for experiment in _silent_running().filter(job_id=""):
        reason = _death_reason(experiment, None, None)
        if reason and experiment_fail_running(experiment_id=experiment.pk, message=reason):
            report.failed.append((experiment.pk, reason))


def _silent_running() -> Any:
    stale_before = timezone.now() - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    silent = Experiment.objects.filter(status=Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True)
    )
    return silent.order_by("pk").only("pk", "job_id", "worker_name", "heartbeat_at")


def _enqueue_missing(report: Reconciliation, redis_connection: Any) -> None:
    waiting = Experiment.objects.filter(status=Status.CREATED, phase=Phase.QUEUED)
    for experiment_id in waiting.order_by("pk").values_list("pk", flat=True):
        if enqueue_if_created(experiment_id, redis_connection):
            report.enqueued.append(experiment_id)


def _fail_dead(report: Reconciliation, redis_connection: Any) -> None:
    stale_before = timezone.now() - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    for experiment in _silent_running().exclude(job_id=""):
        reason = _death_reason(experiment, stale_before, redis_connection)
        if reason and experiment_fail_running(experiment_id=experiment.pk, message=reason):
            report.failed.append((experiment.pk, reason))


def _death_reason(experiment: Experiment, stale_before: Any, redis_connection: Any) -> str | None:
    """Why a silent RUNNING experiment is dead, or None if its worker may still
    be at it (alive in Redis and running the job, e.g. in a long native call)."""
    beat = experiment.heartbeat_at
    silence = f"no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "no heartbeat"
    if not experiment.job_id:
        return f"worker died: the process running it stopped ({silence})"
    state = queue.job_state(experiment_id=experiment.pk, connection=redis_connection)
    if not state.exists:
        return f"worker died: its job is gone from the queue ({silence})"
    if state.status != queue.STARTED:
        return f"worker died: {state.failure or f'job {state.status}'} ({silence})"
    worker_name = state.worker_name or experiment.worker_name
    seen = queue.worker_last_seen(worker_name=worker_name, connection=redis_connection)
    if seen is None or seen < stale_before:
        return f"worker died: worker {worker_name} stopped sending heartbeats ({silence})"
    return None
