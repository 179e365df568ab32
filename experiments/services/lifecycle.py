"""Recording an experiment and the claims that move it from status to status."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from datasets.models import DatasetVersion
from experiments.artifacts import artifact_delete, artifact_write
from experiments.configs import ConfigError, ExperimentConfig, parse_config
from experiments.environment import runtime_environment
from experiments.limits import config_limits
from experiments.models import (
    ACTIVE_STATUSES,
    Experiment,
    Metric,
    Phase,
    Registration,
    Status,
)
from experiments.threads import ThreadBudget
from mlplatform.outages import database_write
from mlplatform.owners import OwnerState, owner_state
from mlplatform.typing import Actor
from mlplatform.users import acting_user

if TYPE_CHECKING:  # the engine imports scikit-learn; only a run that trained needs it
    from experiments import training


def config_parse_or_invalid(config_text: str) -> ExperimentConfig:
    """A config about to be recorded, checked against the platform's limits
    too; the parser's errors as a ValidationError naming each key path."""
    try:
        return parse_config(config_text, limits=config_limits())
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
    user: Actor = None,
    user_name: str | None = None,
    source: str = "cli",
    phase: str = Phase.NONE,
) -> Experiment:
    """Validate a config and record a CREATED experiment; runs nothing. A
    config whose gate section would loosen its model's gate policy is refused."""
    from registry.services.policies import gate_request_check

    config = config_parse_or_invalid(config_text)
    dataset_version = dataset_version_for_config(config)
    gate_request_check(config=config)
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
        created_by=acting_user(user),
        created_by_name=user_name or (user.get_username() if user else "cli"),
        timeout_seconds=config.run.timeout_seconds,
        target=dataset_version.target,
    )


def claim(
    experiment_id: int, from_statuses: tuple[str, ...], *, owner: str = "", **changes: Any
) -> bool:
    """A conditional update: True when this caller moved the row. With
    `owner`, only while that process holds the run."""
    rows = Experiment.objects.filter(pk=experiment_id, status__in=from_statuses)
    if owner:
        rows = rows.filter(run_owner=owner)
    return rows.update(**changes) == 1


def experiment_start(
    *,
    experiment_id: int,
    owner: str,
    job_id: str = "",
    worker_name: str = "",
    threads: ThreadBudget | None = None,
) -> bool:
    """CREATED -> RUNNING, held by `owner` (mlplatform.owners). False when
    someone else already claimed it. The thread budget the run will use goes
    into its environment block. started_at is the moment of the claim: the
    environment is collected first."""
    environment = {
        **runtime_environment(),
        **(threads.as_environment() if threads is not None else {}),
    }
    now = timezone.now()
    claimed = claim(
        experiment_id,
        (Status.CREATED,),
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        phase=Phase.LOADING,
        phase_started_at=now,
        job_id=job_id or "",
        worker_name=worker_name,
        run_owner=owner,
        environment=environment,
    )
    # A retry after a commit whose reply was lost (a database restart) finds
    # its own claim made: the owner token is this process's alone.
    return claimed or _held_by(experiment_id, Status.RUNNING, owner)


def _held_by(experiment_id: int, status: str, owner: str) -> bool:
    return Experiment.objects.filter(pk=experiment_id, status=status, run_owner=owner).exists()


# Progress belongs to the fitting phase: every change of phase clears it.
PROGRESS_CLEARED: dict[str, Any] = {
    "progress_unit": "",
    "progress_done": None,
    "progress_total": None,
    "progress_at_most": False,
    "progress_detail": "",
    "progress_at": None,
}


def experiment_set_phase(*, experiment_id: int, phase: str, owner: str = "") -> bool:
    now = timezone.now()
    return claim(
        experiment_id,
        (Status.RUNNING,),
        owner=owner,
        phase=phase,
        phase_started_at=now,
        heartbeat_at=now,
        **PROGRESS_CLEARED,
    )


def experiment_set_progress(
    *,
    experiment_id: int,
    unit: str,
    done: int,
    total: int,
    at_most: bool = False,
    detail: str = "",
    owner: str = "",
) -> bool:
    """Record how far the fit of a RUNNING experiment has come (`done` of
    `total` iterations or trees). False, and nothing written, unless it is
    still RUNNING and fitting (and held by `owner`, when given): a late
    report never outlives its phase."""
    now = timezone.now()
    rows = Experiment.objects.filter(pk=experiment_id, status=Status.RUNNING, phase=Phase.FITTING)
    if owner:
        rows = rows.filter(run_owner=owner)
    updated = rows.update(
        progress_unit=unit,
        progress_done=done,
        progress_total=total,
        progress_at_most=at_most,
        progress_detail=detail[:100],
        progress_at=now,
        heartbeat_at=now,
    )
    return updated == 1


def experiment_heartbeat(*, experiment_id: int, owner: str = "") -> bool:
    return claim(experiment_id, (Status.RUNNING,), owner=owner, heartbeat_at=timezone.now())


def experiment_fail(
    *, experiment_id: int, message: str, traceback: str = "", owner: str = ""
) -> bool:
    """CREATED or RUNNING -> FAILED; a finished experiment is left as it is.
    With `owner`, a RUNNING row only while that process holds it (a job that
    times out before its claim fails the CREATED row; queued again it would
    only time out again)."""
    rows = Experiment.objects.filter(pk=experiment_id, status__in=ACTIVE_STATUSES)
    if owner:
        rows = rows.filter(Q(status=Status.CREATED) | Q(run_owner=owner))
    failed = rows.update(
        status=Status.FAILED,
        finished_at=timezone.now(),
        error_message=message[:5000],
        traceback=traceback,
    )
    return failed == 1


def experiment_fail_running(*, experiment_id: int, message: str, owner: str = "") -> bool:
    """RUNNING -> FAILED, for a run whose worker is gone (with `owner`: only
    if that is still the process holding it). A CREATED row is left alone:
    its job failed before claiming it, and the reconciler queues it again."""
    return claim(
        experiment_id,
        (Status.RUNNING,),
        owner=owner,
        status=Status.FAILED,
        finished_at=timezone.now(),
        error_message=message[:5000],
    )


def experiment_fail_dead_holder(*, experiment_id: int, message: str) -> bool:
    """RUNNING -> FAILED for a worker that saw the work-horse running it die:
    only if the process holding the run is not alive (a duplicate job's
    horse that died never ends a run another process holds)."""
    holder = (
        Experiment.objects.filter(pk=experiment_id, status=Status.RUNNING)
        .values_list("run_owner", flat=True)
        .first()
    )
    # The work-horse that died ran on this machine: if it held the run, its
    # token is known dead here. Alive, or another machine's: not ours.
    if holder is None or (holder and owner_state(holder) is not OwnerState.DEAD):
        return False
    return experiment_fail_running(experiment_id=experiment_id, message=message, owner=holder)


def _metric_rows(experiment_id: int, metrics: list[training.MetricValue]) -> list[Metric]:
    return [
        Metric(experiment_id=experiment_id, name=metric.name, value=metric.value, step=metric.step)
        for metric in metrics
    ]


def experiment_complete(
    *,
    experiment_id: int,
    result: training.TrainingResult,
    artifact_data: bytes,
    owner: str = "",
) -> bool:
    """RUNNING -> COMPLETED with metrics, curves, holdout and the model artifact,
    all in one transaction, which waits out a database outage
    (mlplatform.outages.database_write): a trained model is not thrown away
    because the database restarted. False (and nothing kept) if the claim was
    lost; the artifact file is removed too when the transaction fails. A
    config that names registry.model_name leaves the experiment waiting to
    register."""
    from experiments.training import holdout_to_bytes

    artifact = artifact_write(
        experiment_id=experiment_id, filename="model.skops", data=artifact_data
    )
    holdout_data = holdout_to_bytes(result.holdout)

    def record() -> bool:
        with transaction.atomic():
            claimed = claim(
                experiment_id,
                (Status.RUNNING,),
                owner=owner,
                status=Status.COMPLETED,
                finished_at=timezone.now(),
                feature_columns=list(result.feature_columns),
                curves=result.curves,
                holdout=holdout_data,
                holdout_sha256=hashlib.sha256(holdout_data).hexdigest(),
                artifact_path=artifact.path,
                artifact_sha256=artifact.sha256,
                artifact_size=artifact.size,
                **_registration_after_completion(experiment_id),
            )
            if claimed:
                Metric.objects.bulk_create(_metric_rows(experiment_id, result.metrics))
        # A retry after a commit whose reply was lost finds the run completed
        # by this process with this very artifact: kept, not thrown away.
        return claimed or (
            bool(owner)
            and Experiment.objects.filter(
                pk=experiment_id,
                status=Status.COMPLETED,
                run_owner=owner,
                artifact_path=artifact.path,
            ).exists()
        )

    kept = False
    try:
        kept = database_write(record, what=f"completion of experiment #{experiment_id}")
    finally:
        if not kept:  # the claim was lost or the transaction failed: no orphan file
            artifact_delete(path=artifact.path)
    return kept


def _registration_after_completion(experiment_id: int) -> dict[str, Any]:
    config = Experiment.objects.filter(pk=experiment_id).values_list("config", flat=True).first()
    model_name = ((config or {}).get("registry") or {}).get("model_name")
    if not model_name:
        return {"phase": Phase.NONE}
    return {"phase": Phase.REGISTERING, "registration": Registration.PENDING}
