"""Registering a gated experiment as a new model version, and the whole
run-then-register path shared by the command line and the queue workers."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from experiments.configs import parse_config
from experiments.models import Experiment, Status
from experiments.services import ProgressCallback, experiment_execute
from registry.models import GateEvaluation, ModelVersion, RegisteredModel, Stage, StageTransition
from registry.services.gate_runs import GateRun, gate_compute, gate_record, gate_run_stale_reason
from registry.services.locks import locked_model
from registry.services.policies import registered_model_ensure

# A gate recomputed this often in a row because production or the policy kept
# changing underneath it gives up with an error rather than loop.
MAX_GATE_ATTEMPTS = 3


def _next_version_number(registered_model: RegisteredModel) -> int:
    highest = registered_model.versions.aggregate(highest=Max("version"))["highest"]
    return (highest or 0) + 1


def model_version_register(
    *, experiment_id: int
) -> tuple[GateEvaluation | None, ModelVersion | None]:
    """Gate a finished experiment and, if it passes, register it as the next
    version of its config's registry.model_name, in staging.

    Returns (None, None) when the config names no registry model.
    """
    experiment = Experiment.objects.select_related("dataset_version__dataset").get(pk=experiment_id)
    model_name = parse_config(experiment.config_text).registry.model_name
    if not model_name:
        return None, None
    if ModelVersion.objects.filter(experiment=experiment).exists():
        raise ValidationError(f"experiment #{experiment.pk} is already registered")
    registered_model = registered_model_ensure(name=model_name)
    for _ in range(MAX_GATE_ATTEMPTS):
        run = gate_compute(
            candidate=experiment,
            registered_model=registered_model,
            purpose=GateEvaluation.Purpose.REGISTRATION,
        )
        recorded = _record_registration(run)
        if recorded is not None:
            return recorded
    raise ValidationError(
        f"{registered_model}: production or its gate policy changed {MAX_GATE_ATTEMPTS} times "
        "while gating; register again"
    )


def _record_registration(
    run: GateRun,
) -> tuple[GateEvaluation, ModelVersion | None] | None:
    """Write the gate's outcome (and the version if it passed) in one short
    transaction; None if what the gate relied on changed meanwhile."""
    with transaction.atomic():
        locked_model(run.registered_model.name)
        if gate_run_stale_reason(run) is not None:
            return None
        evaluation = gate_record(run)
        if not evaluation.passed:
            return evaluation, None
        return evaluation, _version_create(run.candidate, run.registered_model, evaluation)


def _version_create(
    experiment: Experiment, registered_model: RegisteredModel, evaluation: GateEvaluation
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
    StageTransition.objects.create(
        model_version=version,
        from_stage=Stage.NONE,
        to_stage=Stage.STAGING,
        requested_by=experiment.created_by,
        actor_label="regression gate",
        decision=StageTransition.Decision.AUTOMATIC,
        reason=f"registered from experiment #{experiment.pk}: {evaluation.report['summary']}",
        gate_report=evaluation.report,
    )
    return version


def experiment_run_and_register(
    *,
    experiment_id: int,
    job_id: str = "",
    worker_name: str = "",
    on_progress: ProgressCallback | None = None,
) -> tuple[Experiment | None, GateEvaluation | None, ModelVersion | None]:
    """The whole run, shared by the command line and the queue workers: train,
    then gate and stage the model if its config names a registry model."""
    experiment = experiment_execute(
        experiment_id=experiment_id,
        job_id=job_id,
        worker_name=worker_name,
        on_progress=on_progress,
    )
    if experiment is None or experiment.status != Status.COMPLETED:
        return experiment, None, None
    evaluation, version = model_version_register(experiment_id=experiment.pk)
    return experiment, evaluation, version
