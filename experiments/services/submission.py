"""Putting experiments on the training queue after commit, and cancelling them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from experiments import queue
from experiments.models import ACTIVE_STATUSES, Experiment, Phase, Status
from experiments.services.lifecycle import claim, experiment_create
from mlplatform.typing import Actor

logger = logging.getLogger(__name__)


def experiment_cancel(*, experiment_id: int, user: Actor = None) -> bool:
    """CREATED or RUNNING -> CANCELLED; after commit its queued job is removed
    or its running job stopped. If Redis is down the row is CANCELLED all the
    same, and a job that runs later loses its claim and does nothing."""
    who = user.get_username() if user else "cli"
    cancelled = claim(
        experiment_id,
        ACTIVE_STATUSES,
        status=Status.CANCELLED,
        finished_at=timezone.now(),
        error_message=f"cancelled by {who}",
    )
    if cancelled:
        transaction.on_commit(lambda: _job_stop_quietly(experiment_id))
    return cancelled


def _job_stop_quietly(experiment_id: int) -> None:
    try:
        queue.job_stop(experiment_id=experiment_id)
    except queue.QueueUnavailable as error:
        logger.warning(
            "experiment #%s cancelled; its job was not stopped: %s", experiment_id, error
        )


@dataclass(frozen=True)
class Submission:
    """A recorded experiment and whether its job is on the queue yet; message
    is what to tell the user."""

    experiment: Experiment
    enqueued: bool
    message: str


def experiment_submit(
    *,
    config_text: str,
    user: Actor = None,
    user_name: str | None = None,
    source: str = "web",
) -> Submission:
    """Validate a config, record a CREATED experiment and queue its job once the
    row is committed. A Redis outage does not fail the submission: the row stays
    CREATED and the reconciler queues it when Redis is back."""
    outcome: dict[str, bool] = {}
    with transaction.atomic():
        experiment = experiment_create(
            config_text=config_text,
            user=user,
            user_name=user_name,
            source=source,
            phase=Phase.QUEUED,
        )
        transaction.on_commit(
            lambda: outcome.update(enqueued=experiment_enqueue(experiment_id=experiment.pk))
        )
    if outcome.get("enqueued"):
        experiment.refresh_from_db(fields=["enqueued_at", "job_id"])
    return Submission(
        experiment=experiment,
        enqueued=outcome.get("enqueued", False),
        message=_submission_message(experiment.pk, outcome.get("enqueued")),
    )


def _submission_message(experiment_id: int, enqueued: bool | None) -> str:
    if enqueued is None:  # an outer transaction has not committed yet
        return (
            f"Experiment #{experiment_id} is recorded; it is queued when the transaction commits."
        )
    if enqueued:
        return f"Experiment #{experiment_id} is queued; a worker will start it shortly."
    return (
        f"The queue is unavailable right now; experiment #{experiment_id} is recorded "
        "and will run when the queue is back."
    )


def experiment_enqueue(*, experiment_id: int) -> bool:
    """Put a CREATED experiment's job on the training queue, unless a job that
    will still run is there already. True when nothing more is needed: the job
    is on the queue, or the experiment has already left CREATED (the
    reconciler queued it first and a worker took it, or it was cancelled).
    False only when Redis cannot be reached (with a warning logged); the row
    stays CREATED and the reconciler queues it later."""
    try:
        enqueue_if_created(experiment_id, queue.redis_connection())
    except queue.QueueUnavailable as error:
        logger.warning("experiment #%s recorded but not queued: %s", experiment_id, error)
        return False
    return True


def enqueue_if_created(experiment_id: int, redis_connection: Any) -> bool | None:
    """True: this call added the job; False: a pending job was there already;
    None: the experiment is no longer CREATED (started, finished or cancelled)."""
    experiment = Experiment.objects.filter(pk=experiment_id, status=Status.CREATED).first()
    if experiment is None:
        return None
    # Stamped before the push: no worker can start the job earlier, so the
    # timeline reads created <= queued <= started.
    pushed_at = timezone.now()
    added = queue.job_enqueue(
        experiment_id=experiment_id,
        timeout_seconds=experiment.timeout_seconds,
        connection=redis_connection,
    )
    if added:
        # A timestamp, not a status: written even when a quick worker has
        # already started the run, but a push that found the run started (the
        # worker discards that job) leaves the first stamp alone.
        Experiment.objects.filter(pk=experiment_id).filter(
            Q(status=Status.CREATED) | Q(enqueued_at__isnull=True)
        ).update(enqueued_at=pushed_at, job_id=queue.job_id_for(experiment_id))
    return added
