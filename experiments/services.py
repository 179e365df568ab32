"""Every write to an experiment. Status changes are claims: conditional
updates whose row count says whether this caller won the transition."""

from __future__ import annotations

import hashlib
import logging
import threading
import traceback as traceback_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from datasets.models import DatasetVersion
from datasets.services import dataset_version_load
from experiments import training
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
) -> Experiment:
    """Validate a config and record a CREATED experiment; runs nothing."""
    config = config_parse_or_invalid(config_text)
    dataset_version = dataset_version_for_config(config)
    return Experiment.objects.create(
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
    return _claim(
        experiment_id, (Status.RUNNING,), phase=phase, heartbeat_at=timezone.now()
    )


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


def experiment_cancel(*, experiment_id: int, user: Any = None) -> bool:
    """CREATED or RUNNING -> CANCELLED. Stopping the job is the caller's part."""
    who = user.get_username() if user else "cli"
    return _claim(
        experiment_id,
        ACTIVE_STATUSES,
        status=Status.CANCELLED,
        finished_at=timezone.now(),
        error_message=f"cancelled by {who}",
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


def _failure_message(error: BaseException) -> str:
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
    experiment = Experiment.objects.select_related("dataset_version__dataset").get(
        pk=experiment_id
    )

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
            message=_failure_message(error),
            traceback=traceback_module.format_exc(),
        )
        if not isinstance(error, Exception):
            raise
    experiment.refresh_from_db()
    return experiment
