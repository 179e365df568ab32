"""Every write to an experiment. Status changes are claims: conditional
updates whose row count says whether this caller won the transition."""

from __future__ import annotations

import hashlib
import logging
import threading
import traceback as traceback_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from rq.timeouts import JobTimeoutException

from datasets.models import DatasetVersion
from datasets.services import dataset_version_load
from experiments import queue, training
from experiments.artifacts import artifact_delete, artifact_write
from experiments.configs import ConfigError, ExperimentConfig, parse_config
from experiments.environment import runtime_environment
from experiments.models import ACTIVE_STATUSES, Experiment, Metric, Phase, Status

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Experiment, str], None]


class ExperimentStateError(Exception):
    """A transition that the experiment's current status does not allow."""


def config_parse_or_invalid(config_text: str) -> ExperimentConfig:
    """The config parser's errors as a ValidationError naming each key path."""
    try:
        return parse_config(config_text)
    except ConfigError as error:
        raise ValidationError([f"{path}: {message}" for path, message in error.errors]) from None


def dataset_version_for_config(config: ExperimentConfig) -> DatasetVersion:
    try:
        return DatasetVersion.objects.select_related("dataset").get(
            dataset__name=config.dataset.name, version=config.dataset.version
        )
    except DatasetVersion.DoesNotExist:
        raise ValidationError(
            f"dataset: {config.dataset.name}:{config.dataset.version} is not registered "
            "(register it first with manage.py register_dataset)"
        ) from None


def experiment_create(
    *,
    config_text: str,
    user: Any = None,
    user_name: str | None = None,
    source: str = "cli",
    phase: str = Phase.NONE,
) -> Experiment:
    """Validate a config and record a CREATED experiment; runs nothing."""
    config = config_parse_or_invalid(config_text)
    dataset_version = dataset_version_for_config(config)
    return Experiment.objects.create(
        phase=phase,
        name=config.experiment_name,
        config_text=config_text,
        config=config.to_dict(),
        config_sha256=hashlib.sha256(config_text.encode()).hexdigest(),
        dataset_version=dataset_version,
        model_type=config.model.type,
        status=Status.CREATED,
        source=source,
        created_by=user,
        created_by_name=user_name or (user.get_username() if user else "cli"),
        timeout_seconds=config.run.timeout_seconds,
        target=dataset_version.target,
    )


def _claim(experiment_id: int, from_statuses: tuple[str, ...], **changes: Any) -> bool:
    updated = Experiment.objects.filter(pk=experiment_id, status__in=from_statuses).update(
        **changes
    )
    return updated == 1


def experiment_start(*, experiment_id: int, job_id: str = "", worker_name: str = "") -> bool:
    """CREATED -> RUNNING. False when someone else already claimed it."""
    now = timezone.now()
    return _claim(
        experiment_id,
        (Status.CREATED,),
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        phase=Phase.LOADING,
        job_id=job_id or "",
        worker_name=worker_name,
        environment=runtime_environment(),
    )


def experiment_set_phase(*, experiment_id: int, phase: str) -> bool:
    return _claim(experiment_id, (Status.RUNNING,), phase=phase, heartbeat_at=timezone.now())


def experiment_heartbeat(*, experiment_id: int) -> bool:
    return _claim(experiment_id, (Status.RUNNING,), heartbeat_at=timezone.now())


def experiment_fail(*, experiment_id: int, message: str, traceback: str = "") -> bool:
    """CREATED or RUNNING -> FAILED; a finished experiment is left as it is."""
    return _claim(
        experiment_id,
        ACTIVE_STATUSES,
        status=Status.FAILED,
        finished_at=timezone.now(),
        error_message=message[:5000],
        traceback=traceback,
    )


def experiment_fail_running(*, experiment_id: int, message: str) -> bool:
    """RUNNING -> FAILED, for a run whose worker is gone. A CREATED row is left
    alone: its job failed before claiming it, and the reconciler queues it again."""
    return _claim(
        experiment_id,
        (Status.RUNNING,),
        status=Status.FAILED,
        finished_at=timezone.now(),
        error_message=message[:5000],
    )


def experiment_cancel(*, experiment_id: int, user: Any = None) -> bool:
    """CREATED or RUNNING -> CANCELLED; after commit its queued job is removed
    or its running job stopped. If Redis is down the row is CANCELLED all the
    same, and a job that runs later loses its claim and does nothing."""
    who = user.get_username() if user else "cli"
    cancelled = _claim(
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


def _metric_rows(experiment_id: int, metrics: list[training.MetricValue]) -> list[Metric]:
    return [
        Metric(experiment_id=experiment_id, name=metric.name, value=metric.value, step=metric.step)
        for metric in metrics
    ]


def experiment_complete(
    *, experiment_id: int, result: training.TrainingResult, artifact_data: bytes
) -> bool:
    """RUNNING -> COMPLETED with metrics, curves, holdout and the model artifact,
    all in one transaction. False (and nothing kept) if the claim was lost."""
    artifact = artifact_write(
        experiment_id=experiment_id, filename="model.skops", data=artifact_data
    )
    holdout_data = training.holdout_to_bytes(result.holdout)
    with transaction.atomic():
        claimed = _claim(
            experiment_id,
            (Status.RUNNING,),
            status=Status.COMPLETED,
            finished_at=timezone.now(),
            phase="",
            feature_columns=list(result.feature_columns),
            curves=result.curves,
            holdout=holdout_data,
            holdout_sha256=hashlib.sha256(holdout_data).hexdigest(),
            artifact_path=artifact.path,
            artifact_sha256=artifact.sha256,
            artifact_size=artifact.size,
        )
        if claimed:
            Metric.objects.bulk_create(_metric_rows(experiment_id, result.metrics))
    if not claimed:
        artifact_delete(path=artifact.path)
    return claimed


@contextmanager
def _heartbeat(experiment_id: int) -> Iterator[None]:
    """Refresh the heartbeat from a thread while the main thread trains, so a
    long fit still shows a live run; the reconciler treats silence as death."""
    stop = threading.Event()
    interval = settings.EXPERIMENT_HEARTBEAT_SECONDS

    def beat() -> None:
        try:
            while not stop.wait(interval):
                experiment_heartbeat(experiment_id=experiment_id)
        except Exception:
            logger.exception("heartbeat of experiment %s failed", experiment_id)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{experiment_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)


def failure_message(error: BaseException, *, timeout_seconds: int | None = None) -> str:
    """What went wrong, in one line, as the experiment's error message."""
    if isinstance(error, JobTimeoutException):
        return f"timed out after {timeout_seconds} s"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _train_and_store(experiment: Experiment, report: Callable[[str], None]) -> None:
    config = parse_config(experiment.config_text)
    report(Phase.LOADING)
    frame = dataset_version_load(version=experiment.dataset_version)
    result = training.train(
        frame, config=config, target=experiment.dataset_version.target, progress=report
    )
    report(Phase.SAVING)
    artifact_data = training.model_to_bytes(result.model)
    if not experiment_complete(
        experiment_id=experiment.pk, result=result, artifact_data=artifact_data
    ):
        raise ExperimentStateError(
            f"experiment #{experiment.pk} left RUNNING while training (cancelled?)"
        )


def experiment_execute(
    *,
    experiment_id: int,
    job_id: str = "",
    worker_name: str = "",
    on_progress: ProgressCallback | None = None,
) -> Experiment | None:
    """Claim a CREATED experiment, train it and record the outcome.

    The one path for the command line and the queue workers. Returns None when
    the claim is lost (someone else runs it, or it was cancelled). Any error
    ends the experiment FAILED with its reason; a KeyboardInterrupt or other
    BaseException is recorded the same way and then re-raised.
    """
    if not experiment_start(experiment_id=experiment_id, job_id=job_id, worker_name=worker_name):
        return None
    experiment = Experiment.objects.select_related("dataset_version__dataset").get(pk=experiment_id)

    def report(phase: str) -> None:
        if not experiment_set_phase(experiment_id=experiment_id, phase=phase):
            # Cancelled (or failed by the reconciler) under our feet: stop here.
            raise ExperimentStateError(f"experiment #{experiment_id} is no longer RUNNING")
        if on_progress is not None:
            on_progress(experiment, phase)

    try:
        with _heartbeat(experiment_id):
            _train_and_store(experiment, report)
    except BaseException as error:
        experiment_fail(
            experiment_id=experiment_id,
            message=failure_message(error, timeout_seconds=experiment.timeout_seconds),
            traceback=traceback_module.format_exc(),
        )
        if not isinstance(error, Exception):
            raise
    experiment.refresh_from_db()
    return experiment


# ------------------------------------------------------------------- The queue


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
    user: Any = None,
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
    will still run is there already. True when the job is on the queue; False
    when the experiment is no longer CREATED, or (with a warning logged) when
    Redis cannot be reached."""
    try:
        return _enqueue(experiment_id, queue.redis_connection()) is not None
    except queue.QueueUnavailable as error:
        logger.warning("experiment #%s recorded but not queued: %s", experiment_id, error)
        return False


def _enqueue(experiment_id: int, redis_connection: Any) -> bool | None:
    """True: this call added the job; False: a pending job was there already;
    None: the experiment is no longer CREATED (started, finished or cancelled)."""
    experiment = Experiment.objects.filter(pk=experiment_id, status=Status.CREATED).first()
    if experiment is None:
        return None
    added = queue.job_enqueue(
        experiment_id=experiment_id,
        timeout_seconds=experiment.timeout_seconds,
        connection=redis_connection,
    )
    if added:
        # A timestamp, not a status: written whatever the worker did meanwhile.
        Experiment.objects.filter(pk=experiment_id).update(
            enqueued_at=timezone.now(), job_id=queue.job_id_for(experiment_id)
        )
    return added


@dataclass
class Reconciliation:
    """What one reconciliation pass changed."""

    queue_available: bool = True
    enqueued: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def experiment_reconcile() -> Reconciliation:
    """Make the database and the queue agree; the database is the truth.

    CREATED experiments submitted for the queue whose job is missing (never
    queued, or Redis lost its data) are queued. RUNNING experiments whose
    heartbeat is stale and whose job or worker is gone are FAILED with the
    reason. Every change is a claim or an atomic unique enqueue, so any
    number of reconcilers may run at once, as often as they like. With Redis
    unreachable nothing is changed: a silent worker cannot be told from a
    silent queue."""
    report = Reconciliation()
    redis_connection = queue.redis_connection()
    try:
        queue.queue_ping(connection=redis_connection)
        _enqueue_missing(report, redis_connection)
        _fail_dead(report, redis_connection)
    except queue.QueueUnavailable as error:
        logger.warning("reconciliation stopped: %s", error)
        report.queue_available = False
    return report


def _enqueue_missing(report: Reconciliation, redis_connection: Any) -> None:
    waiting = Experiment.objects.filter(status=Status.CREATED, phase=Phase.QUEUED)
    for experiment_id in waiting.order_by("pk").values_list("pk", flat=True):
        if _enqueue(experiment_id, redis_connection):
            report.enqueued.append(experiment_id)


def _fail_dead(report: Reconciliation, redis_connection: Any) -> None:
    stale_before = timezone.now() - timedelta(seconds=settings.EXPERIMENT_STALE_SECONDS)
    silent = Experiment.objects.filter(status=Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True)
    )
    for experiment in silent.order_by("pk").only("pk", "job_id", "worker_name", "heartbeat_at"):
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
        return f"worker died: {state.failure or 'job ' + state.status} ({silence})"
    worker_name = state.worker_name or experiment.worker_name
    seen = queue.worker_last_seen(worker_name=worker_name, connection=redis_connection)
    if seen is None or seen < stale_before:
        return f"worker died: worker {worker_name} stopped sending heartbeats ({silence})"
    return None
