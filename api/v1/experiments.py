"""Experiments: submit a YAML config, list (the web list's filters and
sorts), read one (status, progress, metrics, curves), cancel, run again."""

from __future__ import annotations

import enum
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest
from ninja import Field, Path, Query, Router, Schema
from ninja.responses import Status

from api.v1.auth import caller, requires
from api.v1.errors import ApiError, form_error
from api.v1.schemas import (
    MAX_ID,
    InputSchema,
    Page,
    PageQuery,
    choices_enum,
    page_of,
    responses,
)
from experiments.artifacts import experiment_artifact_open
from experiments.configs import MAX_DOCUMENT_BYTES, MODEL_TYPES
from experiments.documents import experiment_document, experiment_item
from experiments.forms import ExperimentFilterForm
from experiments.models import Experiment
from experiments.models import Status as RunStatus
from experiments.selectors import (
    experiment_detail,
    experiment_list,
    scalar_metric_names,
)
from experiments.services import Submission, experiment_cancel, experiment_submit
from registry.services import registration_retry

router = Router(tags=["experiments"])

if TYPE_CHECKING:  # enums built at run time from the choices: plain strings to mypy
    ModelType: TypeAlias = str
    ExperimentStatus: TypeAlias = str
else:
    ModelType = enum.StrEnum("ModelType", {name: name for name in MODEL_TYPES})
    ExperimentStatus = choices_enum("ExperimentStatus", RunStatus)
ExperimentId = Annotated[int, Path(ge=1, le=MAX_ID)]


# ------------------------------------------------------------------ contracts


class ExperimentItemOut(Schema):
    id: int
    name: str
    status: ExperimentStatus
    phase: str
    model_type: str
    dataset: str = Field(description="name:version")
    source: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    metrics: dict[str, float | None] = Field(
        description="The key metrics (and the one sorted by), None when not recorded."
    )


class FitProgressOut(Schema):
    unit: str = Field(description="iteration (gradient boosting) or tree (random forest)")
    done: int
    total: int
    at_most: bool = Field(description="Early stopping may end the fit sooner: total is a bound.")
    detail: str = Field(description='The last validation score, e.g. "val loss 0.0041", or "".')
    seconds_left: float | None = Field(description="At the pace so far; None before a step.")
    text: str = Field(description='"iteration 120 / 200, val loss 0.0041, about 40 s left"')


class ProgressOut(Schema):
    phase: str = Field(description="queued, loading data, fitting, evaluating, saving, ...")
    elapsed_seconds: float | None = Field(
        description="Queued for (CREATED), running for, or ran for; None if it never started."
    )
    heartbeat_at: datetime | None
    worker_name: str
    fit: FitProgressOut | None = Field(
        description="While fitting a model that reports its iterations or trees; else None."
    )


class StepOut(Schema):
    step: int
    value: float


class ArtifactOut(Schema):
    sha256: str
    size_bytes: int | None


class VersionRefOut(Schema):
    model: str
    version: int
    stage: str
    identical_to: list[int] = Field(
        description="Other versions of the model trained from the same config on the same data."
    )


class GateRunOut(Schema):
    id: int
    model: str
    purpose: str
    passed: bool
    baseline_version: int | None
    created_at: datetime


class RegistrationOut(Schema):
    state: str = Field(
        description="'' (the config names no model), pending, registering, registered, "
        "gate_failed or error"
    )
    message: str = Field(description="The gate's summary, or the error to retry after.")
    attempts: int = Field(
        description="Attempts made in this series (a retry by hand starts a new series)."
    )
    max_attempts: int = Field(
        description="Attempts the reconciler makes in all before `error` stays (settings)."
    )
    next_retry_at: datetime | None = Field(
        description="When the reconciler tries an `error` again; null when it will not."
    )


class ExperimentOut(ExperimentItemOut):
    progress: ProgressOut
    registration: RegistrationOut
    error_message: str
    enqueued_at: datetime | None
    timeout_seconds: int
    config: dict[str, Any] = Field(description="The parsed config, defaults filled in.")
    config_text: str = Field(description="The YAML exactly as submitted.")
    config_sha256: str
    series: dict[str, list[StepOut]] = Field(description="Per-iteration metrics.")
    curves: dict[str, Any] = Field(description="pr and roc curves of the holdout.")
    artifact: ArtifactOut | None
    model_version: VersionRefOut | None
    gate_runs: list[GateRunOut]
    gate_report: dict[str, Any] | None = Field(
        description="The newest gate run's full report (registry.gate), or null."
    )


class SubmissionOut(ExperimentOut):
    enqueued: bool = Field(description="False while the queue is unreachable; it runs later.")
    message: str


class ExperimentSubmitIn(InputSchema):
    config: str = Field(
        min_length=1,
        max_length=MAX_DOCUMENT_BYTES,
        description="The experiment config, YAML text (schema: configs/README.md).",
    )


class ExperimentFilters(PageQuery):
    status: ExperimentStatus | None = None
    dataset_version: int | None = Field(None, ge=1, le=MAX_ID, description="A dataset version id.")
    model_type: ModelType | None = None
    name: str = Field("", max_length=200, description="Part of the experiment name.")
    sort: str = Field(
        "created",
        max_length=100,
        description="created, name, status, model, or any recorded metric name.",
    )
    order: Literal["desc", "asc"] = "desc"

    def form_data(self) -> dict[str, str]:
        return {
            "status": self.status or "",
            "dataset_version": str(self.dataset_version or ""),
            "model_type": self.model_type or "",
            "name": self.name,
            "sort": self.sort,
            "order": self.order,
        }


# ------------------------------------------------------------------ rendering


def _found(experiment_id: int) -> Experiment:
    try:
        return experiment_detail(experiment_id=experiment_id)
    except Experiment.DoesNotExist:
        raise Http404(f"there is no experiment #{experiment_id}") from None


def _submitted(submission: Submission) -> Status[dict[str, Any]]:
    body = {
        **experiment_document(_found(submission.experiment.pk)),
        "enqueued": submission.enqueued,
        "message": submission.message,
    }
    return Status(201, body)


# ------------------------------------------------------------------ endpoints


@router.get(
    "/experiments/",
    response=responses(Page[ExperimentItemOut]),
    auth=requires("experiments.view_experiment"),
)
def experiment_list_endpoint(
    request: HttpRequest, filters: Query[ExperimentFilters]
) -> dict[str, Any]:
    """Experiments, newest first unless sorted otherwise: the web list's
    filters, and sorting by a column or by any recorded metric."""
    form = ExperimentFilterForm(filters.form_data(), metric_names=scalar_metric_names())
    if not form.is_valid():
        raise form_error(form)
    chosen = form.filters()
    return page_of(
        experiment_list(**chosen), filters, partial(experiment_item, sort=chosen["sort"])
    )


@router.post(
    "/experiments/",
    response=responses(SubmissionOut, 413, 415, status=201),
    auth=requires("experiments.add_experiment"),
)
def experiment_submit_endpoint(
    request: HttpRequest, payload: ExperimentSubmitIn
) -> Status[dict[str, Any]]:
    """Submit a config: the experiment is recorded and queued for the
    workers; poll GET /api/v1/experiments/{id}/ until its status is final."""
    submission = experiment_submit(config_text=payload.config, user=caller(request), source="api")
    return _submitted(submission)


@router.get(
    "/experiments/{experiment_id}/",
    response=responses(ExperimentOut, 404),
    auth=requires("experiments.view_experiment"),
)
def experiment_detail_endpoint(request: HttpRequest, experiment_id: ExperimentId) -> dict[str, Any]:
    return experiment_document(_found(experiment_id))


@router.post(
    "/experiments/{experiment_id}/cancel/",
    response=responses(ExperimentOut, 404, 409),
    auth=requires("experiments.cancel_experiment"),
)
def experiment_cancel_endpoint(request: HttpRequest, experiment_id: ExperimentId) -> dict[str, Any]:
    """Cancel a CREATED or RUNNING experiment (409 not_active when it had
    already finished)."""
    experiment = _found(experiment_id)
    if not experiment_cancel(experiment_id=experiment.pk, user=caller(request)):
        experiment.refresh_from_db(fields=["status"])
        raise ApiError(
            409,
            "not_active",
            f"experiment #{experiment.pk} is {experiment.status.upper()}; "
            "only CREATED or RUNNING experiments can be cancelled",
        )
    return experiment_document(_found(experiment_id))


@router.post(
    "/experiments/{experiment_id}/rerun/",
    response=responses(SubmissionOut, 404, status=201),
    auth=requires("experiments.add_experiment"),
)
def experiment_rerun_endpoint(
    request: HttpRequest, experiment_id: ExperimentId
) -> Status[dict[str, Any]]:
    """Submit the same config text again as a new experiment."""
    original = _found(experiment_id)
    try:
        submission = experiment_submit(
            config_text=original.config_text, user=caller(request), source="rerun"
        )
    except ValidationError as error:
        raise ApiError(
            400, "invalid", "cannot run it again: " + "; ".join(error.messages)
        ) from None
    return _submitted(submission)


@router.post(
    "/experiments/{experiment_id}/register/",
    response=responses(ExperimentOut, 404, status=202),
    auth=requires("experiments.add_experiment"),
)
def experiment_register_endpoint(
    request: HttpRequest, experiment_id: ExperimentId
) -> Status[dict[str, Any]]:
    """Gate and register a COMPLETED experiment again (after a registration
    error or a failed gate), on a worker: answers 202 with registration
    `pending`; poll the experiment until it has an outcome."""
    experiment = _found(experiment_id)
    registration_retry(experiment_id=experiment.pk, user=caller(request))
    return Status(202, experiment_document(_found(experiment_id)))


EXPERIMENT_ARTIFACT_RESPONSE = {
    200: {
        "description": "The model file (skops), verified against the experiment's SHA-256.",
        "headers": {
            "X-Artifact-SHA256": {
                "description": "The SHA-256 the bytes were checked against.",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            }
        },
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/experiments/{experiment_id}/artifact/",
    response=responses(None, 404, 409),
    auth=requires("experiments.view_experiment", "registry.view_modelversion"),
    openapi_extra={"responses": EXPERIMENT_ARTIFACT_RESPONSE},
)
def experiment_artifact_endpoint(request: HttpRequest, experiment_id: ExperimentId) -> FileResponse:
    """The model file of a COMPLETED experiment, registered or not, served only
    if its bytes match the digest recorded when it completed (409
    artifact_integrity otherwise; 404 for an experiment with no model)."""
    experiment = _found(experiment_id)
    try:
        artifact = experiment_artifact_open(experiment=experiment)
    except LookupError as error:
        raise Http404(str(error)) from None
    response = FileResponse(
        artifact,
        as_attachment=True,
        filename=f"experiment-{experiment.pk}.skops",
        content_type="application/octet-stream",
    )
    response["X-Artifact-SHA256"] = experiment.artifact_sha256
    return response
