"""Registering a gated experiment as a new model version, and the whole
run-then-register path shared by the command line and the queue workers.

Registration is a recorded step of the experiment (Experiment.registration):
a COMPLETED experiment whose config names registry.model_name waits
(`pending`), is claimed (`registering`, with a heartbeat), and every attempt
ends in an outcome: `registered`, `gate_failed` or `error` (retryable). The
gate is computed outside any transaction; only its outcome is written, in a
short transaction that re-checks what the gate relied on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from experiments import queue
from experiments.configs import parse_config
from experiments.fit_progress import ProgressReceiver
from experiments.models import (
    REGISTRATION_IN_PROGRESS,
    REGISTRATION_RETRYABLE,
    Experiment,
    Phase,
    Registration,
    Status,
)
from experiments.services import ProgressCallback, experiment_execute, failure_message
from experiments.services.heartbeat import heartbeat
from experiments.threads import thread_budget_for_run, threads_limited
from mlplatform.origin import Origin
from mlplatform.outages import database_write
from mlplatform.owners import holder_gone, process_owner
from registry.history_chain import history_append
from registry.models import GateEvaluation, ModelVersion, RegisteredModel, Stage, StageTransition
from registry.services.gate_runs import GateRun, gate_compute, gate_record, gate_run_stale_reason
from registry.services.locks import locked_model
from registry.services.policies import registered_model_ensure

if TYPE_CHECKING:
    from mlplatform.typing import Actor

logger = logging.getLogger(__name__)

# A gate recomputed this often in a row because production or the policy kept
# changing underneath it gives up with an error rather than loop.
MAX_GATE_ATTEMPTS = 3

Outcome = tuple[GateEvaluation | None, ModelVersion | None]


class RegistrationTakenOver(Exception):
    """Another process claimed this registration (ours was presumed dead)."""


class RegistrationBusy(ValidationError):
    """A live process is gating and registering this experiment right now."""


def _next_version_number(registered_model: RegisteredModel) -> int:
    highest = registered_model.versions.aggregate(highest=Max("version"))["highest"]
    return (highest or 0) + 1


def model_version_register(
    *, experiment_id: int, origin: Origin | None = None, new_series: bool = False
) -> Outcome:
    """Gate a COMPLETED experiment and, if it passes, register it as the next
    version of its config's registry.model_name, in staging.

    Returns (None, None) when the config names no registry model. Raises
    ValidationError when it cannot start (already registered, being
    registered right now, not COMPLETED). Otherwise the attempt ends in a
    recorded outcome; an unexpected error is recorded as `error` and raised."""
    origin = origin or Origin.worker()
    experiment = Experiment.objects.select_related("dataset_version__dataset").get(pk=experiment_id)
    model_name = parse_config(experiment.config_text).registry.model_name
    if not model_name:
        return None, None
    _refuse_if_registered(experiment)
    owner = process_owner().token
    if not registration_claim(experiment_id=experiment_id, owner=owner, new_series=new_series):
        message = _unclaimable_message(experiment_id)
        if "right now" in message:
            raise RegistrationBusy(message)
        raise ValidationError(message)
    try:
        with heartbeat(
            lambda: _registration_beat(experiment_id, owner),
            name=f"registration-{experiment_id}",
            interval=settings.EXPERIMENT_HEARTBEAT_SECONDS,
        ):
            return _gate_and_register(experiment, model_name, origin, owner)
    except RegistrationTakenOver:
        raise  # the other process records the outcome
    except BaseException as error:
        message = failure_message(error, timeout_seconds=experiment.timeout_seconds)
        database_write(
            lambda: registration_record_error(
                experiment_id=experiment_id, message=message, owner=owner
            ),
            what=f"registration error of experiment #{experiment_id}",
        )
        raise


def _refuse_if_registered(experiment: Experiment) -> None:
    existing = ModelVersion.objects.filter(experiment=experiment).first()
    if existing is not None:
        raise ValidationError(f"experiment #{experiment.pk} is already registered as {existing}")


def _unclaimable_message(experiment_id: int) -> str:
    experiment = Experiment.objects.only("status", "registration").get(pk=experiment_id)
    if experiment.status != Status.COMPLETED:
        return (
            f"experiment #{experiment_id} is {experiment.status.upper()}; "
            "only a COMPLETED experiment can be registered"
        )
    if experiment.registration == Registration.REGISTERED:
        return f"experiment #{experiment_id} is already registered"
    return f"experiment #{experiment_id} is being gated and registered right now"


def _require_experimenter(user: Actor) -> None:
    if user is None or not user.is_active or not user.has_perm("experiments.add_experiment"):
        raise PermissionDenied("only experimenters may gate and register an experiment again")


def registration_by_hand(*, experiment_id: int, user: Actor, origin: Origin) -> Outcome:
    """Gate and register an experiment again in this process, for a person
    (the command line): an experimenter only, as on the web; a new series
    of attempts."""
    _require_experimenter(user)
    return model_version_register(experiment_id=experiment_id, origin=origin, new_series=True)


def registration_retry(*, experiment_id: int, user: Actor) -> bool:
    """Ask a worker to gate and register an experiment again (after an error or
    a failed gate). The experiment shows `pending` at once; False when the
    queue is down (the reconciler queues it when Redis is back)."""
    _require_experimenter(user)
    experiment = Experiment.objects.get(pk=experiment_id)
    if not (experiment.config.get("registry") or {}).get("model_name"):
        raise ValidationError(f"experiment #{experiment_id}'s config names no registry model")
    _refuse_if_registered(experiment)
    moved = Experiment.objects.filter(
        pk=experiment_id,
        status=Status.COMPLETED,
        registration__in=(Registration.NONE, *REGISTRATION_RETRYABLE),
    ).update(
        registration=Registration.PENDING,
        registration_message="",
        phase=Phase.REGISTERING,
        registration_attempts=0,  # a retry by hand starts a new series of attempts
        registration_retry_at=None,
    )
    if moved != 1:
        raise ValidationError(_unclaimable_message(experiment_id))
    from registry.jobs import register_job_enqueue

    try:
        register_job_enqueue(experiment_id)
    except queue.QueueUnavailable:
        return False
    return True


def registration_claim(*, experiment_id: int, owner: str, new_series: bool = False) -> bool:
    """-> registering, held by `owner` (mlplatform.owners). From: waiting, an
    error or a failed gate (a retry), a run recorded before registrations
    were tracked, or a registration whose holder is gone (registration_holder_gone).
    A live holder's claim is never taken. Each claim counts an attempt; one
    made by hand (new_series) is the first of a new series."""
    row = (
        Experiment.objects.filter(pk=experiment_id, status=Status.COMPLETED)
        .values("registration", "registration_owner", "registration_heartbeat_at")
        .first()
    )
    if row is None:
        return False
    claimable = Experiment.objects.filter(
        pk=experiment_id, status=Status.COMPLETED, registration=row["registration"]
    )
    if row["registration"] == Registration.REGISTERING:
        if not registration_holder_gone(
            row["registration_owner"], row["registration_heartbeat_at"]
        ):
            return False
        claimable = claimable.filter(registration_owner=row["registration_owner"])
    elif row["registration"] not in CLAIMABLE_REGISTRATIONS:
        return False
    claimed = claimable.update(
        registration=Registration.REGISTERING,
        registration_owner=owner,
        registration_heartbeat_at=timezone.now(),
        registration_message="",
        registration_attempts=1 if new_series else F("registration_attempts") + 1,
        registration_retry_at=None,
        phase=Phase.REGISTERING,
    )
    return claimed == 1


CLAIMABLE_REGISTRATIONS = (
    Registration.NONE,
    Registration.PENDING,
    Registration.ERROR,
    Registration.GATE_FAILED,
)


def registration_holder_gone(owner: str, heartbeat_at: datetime | None) -> str:
    """Why the process holding a `registering` claim is gone, or "": its
    process is known dead, or (on another host) it has been silent past the
    lease. Silence alone, shorter than the lease, never ends a claim."""
    return holder_gone(owner, heartbeat_at, timezone.now(), lease=settings.EXPERIMENT_LEASE_SECONDS)


def _registration_beat(experiment_id: int, owner: str) -> None:
    Experiment.objects.filter(
        pk=experiment_id, registration=Registration.REGISTERING, registration_owner=owner
    ).update(registration_heartbeat_at=timezone.now())


def registration_record_error(*, experiment_id: int, message: str, owner: str = "") -> bool:
    """An attempt that ended without an outcome (a crash, a timeout, a killed
    worker): `error`, tried again by the reconciler after a pause while
    attempts remain (registration_retry_at). With `owner`: only that
    process's own claim. Without: a registration still waiting (its job died
    before claiming it), or one whose holder is gone; never a live claim.
    False when there was no attempt to end."""
    row = (
        Experiment.objects.filter(pk=experiment_id, status=Status.COMPLETED)
        .values("registration", "registration_owner", "registration_heartbeat_at")
        .first()
    )
    if row is None or row["registration"] not in REGISTRATION_IN_PROGRESS:
        return False
    ending = Experiment.objects.filter(
        pk=experiment_id, status=Status.COMPLETED, registration=row["registration"]
    )
    if row["registration"] == Registration.REGISTERING:
        holder = row["registration_owner"]
        if owner and holder != owner:
            return False
        if not owner and not registration_holder_gone(holder, row["registration_heartbeat_at"]):
            return False
        ending = ending.filter(registration_owner=holder)
    attempts = Experiment.objects.filter(pk=experiment_id).values_list(
        "registration_attempts", flat=True
    )[0]
    if row["registration"] == Registration.PENDING:
        attempts += 1  # a job that died before it could claim: an attempt all the same
    ended = ending.update(
        registration=Registration.ERROR,
        registration_message=message[:5000],
        registration_attempts=attempts,
        registration_retry_at=registration_next_retry(attempts),
        phase=Phase.NONE,
    )
    return ended == 1


def registration_next_retry(attempts: int) -> datetime | None:
    """When the reconciler tries again after `attempts` failed ones: the
    first pause REGISTRATION_RETRY_SECONDS, each next three times longer;
    None once REGISTRATION_MAX_ATTEMPTS were made."""
    if attempts >= settings.REGISTRATION_MAX_ATTEMPTS:
        return None
    pause = settings.REGISTRATION_RETRY_SECONDS * 3 ** (attempts - 1)
    return timezone.now() + timedelta(seconds=pause)


def registration_retry_due(*, experiment_id: int) -> bool:
    """error -> pending for the reconciler, once its retry time has come:
    True when this caller moved it (and should queue its job)."""
    moved = Experiment.objects.filter(
        pk=experiment_id,
        status=Status.COMPLETED,
        registration=Registration.ERROR,
        registration_retry_at__lte=timezone.now(),
    ).update(
        registration=Registration.PENDING,
        registration_retry_at=None,
        phase=Phase.REGISTERING,
    )
    return moved == 1


def _gate_and_register(
    experiment: Experiment, model_name: str, origin: Origin, owner: str
) -> Outcome:
    registered_model = registered_model_ensure(name=model_name)
    for _ in range(MAX_GATE_ATTEMPTS):
        run = gate_compute(
            candidate=experiment,
            registered_model=registered_model,
            purpose=GateEvaluation.Purpose.REGISTRATION,
        )
        recorded = database_write(
            partial(_record_registration, run, origin, owner),
            what=f"registration of experiment #{experiment.pk}",
        )
        if recorded is not None:
            return recorded
    raise ValidationError(
        f"{registered_model}: production or its gate policy changed {MAX_GATE_ATTEMPTS} times "
        "while gating; register again"
    )


def _record_registration(run: GateRun, origin: Origin, owner: str) -> Outcome | None:
    """Write the gate's outcome (and the version if it passed) in one short
    transaction; None if what the gate relied on changed meanwhile."""
    try:
        with transaction.atomic():
            locked_model(run.registered_model.name)
            if gate_run_stale_reason(run) is not None:
                return None
            evaluation = gate_record(run)
            version = None
            if evaluation.passed:
                version = _version_create(run.candidate, run.registered_model, evaluation, origin)
            _record_outcome(run, version, owner)
            return evaluation, version
    except IntegrityError:
        # The experiment's one-to-one version: registered by another process.
        existing = ModelVersion.objects.filter(experiment=run.candidate).first()
        if existing is None:
            raise
        raise ValidationError(
            f"experiment #{run.candidate.pk} was registered as {existing} at the same moment"
        ) from None


def _record_outcome(run: GateRun, version: ModelVersion | None, owner: str) -> None:
    if version is not None:
        outcome = Registration.REGISTERED
    elif run.report.get("error"):
        outcome = Registration.ERROR
    else:
        outcome = Registration.GATE_FAILED
    attempts = Experiment.objects.filter(pk=run.candidate.pk).values_list(
        "registration_attempts", flat=True
    )[0]
    recorded = Experiment.objects.filter(
        pk=run.candidate.pk, registration=Registration.REGISTERING, registration_owner=owner
    ).update(
        registration=outcome,
        registration_message=str(run.report.get("summary", ""))[:5000],
        registration_retry_at=(
            registration_next_retry(attempts) if outcome == Registration.ERROR else None
        ),
        phase=Phase.NONE,
    )
    if recorded != 1:
        raise RegistrationTakenOver(
            f"the registration of experiment #{run.candidate.pk} was taken over by another process"
        )


def _version_create(
    experiment: Experiment,
    registered_model: RegisteredModel,
    evaluation: GateEvaluation,
    origin: Origin,
) -> ModelVersion:
    version = ModelVersion.objects.create(
        registered_model=registered_model,
        version=_next_version_number(registered_model),
        experiment=experiment,
        artifact_sha256=experiment.artifact_sha256,
        stage=Stage.STAGING,
        registration_gate=evaluation,
        created_by=experiment.created_by,
        stage_changed_at=timezone.now(),
    )
    history_append(
        StageTransition,
        model_version=version,
        from_stage=Stage.NONE,
        to_stage=Stage.STAGING,
        requested_by=experiment.created_by,
        actor_label="regression gate",
        decision=StageTransition.Decision.AUTOMATIC,
        reason=f"registered from experiment #{experiment.pk}: {evaluation.report['summary']}",
        gate_report=evaluation.report,
        channel=origin.channel,
        os_user=origin.os_user,
        host=origin.host,
    )
    return version


def experiment_run_and_register(
    *,
    experiment_id: int,
    job_id: str = "",
    worker_name: str = "",
    on_progress: ProgressCallback | None = None,
    on_fit_progress: ProgressReceiver | None = None,
    origin: Origin | None = None,
) -> tuple[Experiment | None, GateEvaluation | None, ModelVersion | None]:
    """The whole run, shared by the command line and the queue workers: train,
    then gate and stage the model if its config names a registry model. A
    registration that fails is recorded on the experiment (`error`, which a
    retry or the reconciler picks up) and does not undo the COMPLETED run.
    Training and the gate run under one thread budget."""
    with threads_limited(thread_budget_for_run(in_worker=bool(job_id))):
        return _run_and_register(
            experiment_id, job_id, worker_name, on_progress, on_fit_progress, origin
        )


def _run_and_register(
    experiment_id: int,
    job_id: str,
    worker_name: str,
    on_progress: ProgressCallback | None,
    on_fit_progress: ProgressReceiver | None,
    origin: Origin | None,
) -> tuple[Experiment | None, GateEvaluation | None, ModelVersion | None]:
    experiment = experiment_execute(
        experiment_id=experiment_id,
        job_id=job_id,
        worker_name=worker_name,
        on_progress=on_progress,
        on_fit_progress=on_fit_progress,
    )
    if experiment is None or experiment.status != Status.COMPLETED:
        return experiment, None, None
    if on_progress is not None and experiment.registration == Registration.PENDING:
        on_progress(experiment, Phase.REGISTERING)
    try:
        evaluation, version = model_version_register(experiment_id=experiment.pk, origin=origin)
    except Exception:
        logger.exception("registration of experiment #%s failed", experiment.pk)
        evaluation, version = None, None
    experiment.refresh_from_db()
    return experiment, evaluation, version
