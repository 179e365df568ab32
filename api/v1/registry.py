"""The model registry, read: models, versions, their gate reports, stage
history, stage requests, batch scoring runs, and the verified artifact."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from django.http import FileResponse, Http404, HttpRequest
from ninja import Field, Path, Query, Router, Schema

from api.v1.auth import requires
from api.v1.schemas import (
    MAX_VERSION,
    NAME_PATTERN,
    Page,
    PageQuery,
    choices_enum,
    page_of,
    responses,
)
from experiments.selectors import KEY_METRICS, experiment_scalar_metrics
from registry.documents import stage_request_item
from registry.models import (
    GateEvaluation,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageRequest,
    StageTransition,
)
from registry.selectors import (
    model_version_page,
    registered_model_versions,
    registered_models_index,
)
from registry.services import model_version_artifact_open
from serving.models import ScoringRun
from serving.selectors import scoring_runs_of_version

router = Router(tags=["models"])

ModelName = Annotated[str, Path(pattern=NAME_PATTERN)]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]
DIGEST_HEADER = "X-Artifact-SHA256"
if TYPE_CHECKING:  # enums built at run time from the choices: plain strings to mypy
    StageName: TypeAlias = str
    GatePurpose: TypeAlias = str
    StageDecision: TypeAlias = str
    StageRequestStatus: TypeAlias = str
else:
    StageName = choices_enum("Stage", Stage)
    GatePurpose = choices_enum("GatePurpose", GateEvaluation.Purpose)
    StageDecision = choices_enum("StageDecision", StageTransition.Decision)
    StageRequestStatus = choices_enum("StageRequestStatus", StageRequest.Status)
READ = "registry.view_modelversion"


# ------------------------------------------------------------------ contracts


class ModelOut(Schema):
    name: str
    created_at: datetime
    version_count: int
    production_version: int | None
    staging_versions: list[int]
    latest_version: int | None


class VersionItemOut(Schema):
    model: str
    version: int
    stage: StageName
    experiment_id: int
    artifact_sha256: str
    created_at: datetime
    stage_changed_at: datetime | None
    registration_gate_passed: bool | None
    metrics: dict[str, float | None] = Field(description="The key metrics.")


class VersionOut(VersionItemOut):
    experiment_name: str
    model_type: str
    dataset: str
    threshold: float = Field(description="Probability at or above which a row is fraud.")
    feature_columns: list[str]
    artifact_size_bytes: int | None
    created_by: str | None
    metrics: dict[str, float | None] = Field(description="Every scalar metric of the holdout.")


class GateReportOut(Schema):
    id: int
    purpose: GatePurpose
    passed: bool
    candidate_experiment_id: int
    baseline_version: int | None = Field(description="The production version compared with.")
    created_at: datetime
    report: dict[str, Any]


class TransitionOut(Schema):
    id: int
    from_stage: StageName
    to_stage: StageName
    decision: StageDecision
    request_id: int | None
    requested_by: str | None
    decided_by: str = Field(description="The approver, or who acted when no user did.")
    reason: str
    override: bool
    channel: str = Field(description="web, admin, cli, api or worker (empty: before channels).")
    os_user: str = Field(description="For cli: the operating-system account.")
    host: str = Field(description="For cli: the host.")
    created_at: datetime


class StageRequestOut(Schema):
    id: int
    model: str
    version: int
    from_stage: StageName
    to_stage: StageName
    status: StageRequestStatus
    reason: str
    requested_by: str
    requested_at: datetime
    gate_passed: bool | None = Field(description="The gate run for a move to production.")
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str
    override: bool
    channel: str = Field(description="Where the request was made: web, admin, cli or api.")


class ScoringRunOut(Schema):
    id: int
    artifact_sha256: str
    threshold: float
    requested_stage: str
    input_path: str
    input_sha256: str
    rows: int
    positives: int
    user: str
    channel: str
    started_at: datetime
    duration_seconds: float


# ------------------------------------------------------------------ rendering


def _model(model: RegisteredModel) -> dict[str, Any]:
    # Set by the registry selectors (a prefetch to_attr, an annotation).
    listed = model.listed_versions  # type: ignore[attr-defined]
    return {
        "name": model.name,
        "created_at": model.created_at,
        "version_count": model.version_count,  # type: ignore[attr-defined]
        "production_version": next(
            (v.version for v in listed if v.stage == Stage.PRODUCTION), None
        ),
        "staging_versions": [v.version for v in listed if v.stage == Stage.STAGING],
        "latest_version": max((v.version for v in listed), default=None),
    }


def _version_item(version: ModelVersion, model_name: str) -> dict[str, Any]:
    gate = version.registration_gate
    return {
        "model": model_name,
        "version": version.version,
        "stage": version.stage,
        "experiment_id": version.experiment_id,
        "artifact_sha256": version.artifact_sha256,
        "created_at": version.created_at,
        "stage_changed_at": version.stage_changed_at,
        "registration_gate_passed": gate.passed if gate is not None else None,
        "metrics": {name: getattr(version, f"metric_{name}", None) for name in KEY_METRICS},
    }


def _version(version: ModelVersion) -> dict[str, Any]:
    experiment = version.experiment
    return {
        **_version_item(version, version.registered_model.name),
        "experiment_name": experiment.name,
        "model_type": experiment.model_type,
        "dataset": experiment.dataset_version.label,
        "threshold": float(experiment.config.get("threshold", 0.5)),
        "feature_columns": list(experiment.feature_columns),
        "artifact_size_bytes": experiment.artifact_size,
        "created_by": version.created_by.get_username() if version.created_by else None,
        "metrics": experiment_scalar_metrics(experiment_id=experiment.pk),
    }


def _gate_report(run: GateEvaluation) -> dict[str, Any]:
    return {
        "id": run.pk,
        "purpose": run.purpose,
        "passed": run.passed,
        "candidate_experiment_id": run.candidate_id,
        "baseline_version": run.baseline_version.version if run.baseline_version else None,
        "created_at": run.created_at,
        "report": run.report,
    }


def _transition(transition: StageTransition) -> dict[str, Any]:
    decided_by = transition.approved_by
    return {
        "id": transition.pk,
        "from_stage": transition.from_stage,
        "to_stage": transition.to_stage,
        "decision": transition.decision,
        "request_id": transition.request_id,
        "requested_by": _username(transition.requested_by),
        "decided_by": decided_by.get_username() if decided_by else transition.actor_label or "-",
        "reason": transition.reason,
        "override": transition.override,
        "channel": transition.channel,
        "os_user": transition.os_user,
        "host": transition.host,
        "created_at": transition.created_at,
    }


def _scoring_run(run: ScoringRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "artifact_sha256": run.artifact_sha256,
        "threshold": run.threshold,
        "requested_stage": run.requested_stage,
        "input_path": run.input_path,
        "input_sha256": run.input_sha256,
        "rows": run.rows,
        "positives": run.positives,
        "user": run.user_name,
        "channel": run.channel,
        "started_at": run.started_at,
        "duration_seconds": run.duration_seconds,
    }


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _model_or_404(model_name: str) -> RegisteredModel:
    try:
        return registered_model_versions(model_name=model_name)
    except RegisteredModel.DoesNotExist:
        raise Http404(f"there is no registered model {model_name!r}") from None


def _version_or_404(model_name: str, version: int) -> ModelVersion:
    try:
        return model_version_page(model_name=model_name, version=version)
    except ModelVersion.DoesNotExist:
        raise Http404(f"model {model_name!r} has no version {version}") from None


# ------------------------------------------------------------------ endpoints


@router.get("/models/", response=responses(Page[ModelOut]), auth=requires(READ))
def model_list(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    """Registered models with their production and staging versions."""
    return page_of(registered_models_index(), page, _model)


@router.get("/models/{name}/", response=responses(ModelOut, 404), auth=requires(READ))
def model_detail(request: HttpRequest, name: ModelName) -> dict[str, Any]:
    for model in registered_models_index():
        if model.name == name:
            return _model(model)
    raise Http404(f"there is no registered model {name!r}")


@router.get(
    "/models/{name}/versions/", response=responses(Page[VersionItemOut], 404), auth=requires(READ)
)
def model_version_list(
    request: HttpRequest, name: ModelName, page: Query[PageQuery]
) -> dict[str, Any]:
    """Every version of the model, newest first, with its stage and key metrics."""
    model = _model_or_404(name)
    versions = list(model.listed_versions)  # type: ignore[attr-defined]  # a prefetch to_attr
    return page_of(versions, page, lambda row: _version_item(row, model.name))


@router.get(
    "/models/{name}/versions/{version}/", response=responses(VersionOut, 404), auth=requires(READ)
)
def model_version_detail(
    request: HttpRequest, name: ModelName, version: VersionNumber
) -> dict[str, Any]:
    """A version: stage, metrics, the threshold its decisions use, its features."""
    return _version(_version_or_404(name, version))


@router.get(
    "/models/{name}/versions/{version}/gate-reports/",
    response=responses(list[GateReportOut], 404),
    auth=requires(READ, "registry.view_gateevaluation"),
)
def model_version_gate_reports(
    request: HttpRequest, name: ModelName, version: VersionNumber
) -> list[dict[str, Any]]:
    """Every regression gate run on the version's experiment, newest first, in full."""
    found = _version_or_404(name, version)
    return [_gate_report(run) for run in found.experiment.gate_evaluations.all()]


@router.get(
    "/models/{name}/versions/{version}/history/",
    response=responses(list[TransitionOut], 404),
    auth=requires(READ, "registry.view_stagetransition"),
)
def model_version_history(
    request: HttpRequest, name: ModelName, version: VersionNumber
) -> list[dict[str, Any]]:
    """The version's stage history (append-only), newest first."""
    return [_transition(row) for row in _version_or_404(name, version).transitions.all()]


@router.get(
    "/models/{name}/versions/{version}/stage-requests/",
    response=responses(list[StageRequestOut], 404),
    auth=requires(READ, "registry.view_stagerequest"),
)
def model_version_stage_requests(
    request: HttpRequest, name: ModelName, version: VersionNumber
) -> list[dict[str, Any]]:
    """Requests to move the version, newest first."""
    found = _version_or_404(name, version)
    return [stage_request_item(row) for row in found.stage_requests.all()]


@router.get(
    "/models/{name}/versions/{version}/scoring-runs/",
    response=responses(list[ScoringRunOut], 404),
    auth=requires(READ),
)
def model_version_scoring_runs(
    request: HttpRequest, name: ModelName, version: VersionNumber
) -> list[dict[str, Any]]:
    """The version's recent batch scoring runs (manage.py score), newest first."""
    found = _version_or_404(name, version)
    return [_scoring_run(run) for run in scoring_runs_of_version(model_version_id=found.pk)]


ARTIFACT_RESPONSE = {
    200: {
        "description": "The model file (skops), verified against its registered SHA-256.",
        "headers": {
            DIGEST_HEADER: {
                "description": "The registered SHA-256 the bytes were checked against.",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            }
        },
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/models/{name}/versions/{version}/artifact/",
    response=responses(None, 404, 409),
    auth=requires(READ),
    openapi_extra={"responses": ARTIFACT_RESPONSE},
)
def model_version_artifact(
    request: HttpRequest, name: ModelName, version: VersionNumber
) -> FileResponse:
    """The model file, served only if its bytes match the registered digest
    (409 artifact_integrity otherwise); the digest is in X-Artifact-SHA256."""
    found = _version_or_404(name, version)
    artifact = model_version_artifact_open(model_version=found)
    response = FileResponse(
        artifact,
        as_attachment=True,
        filename=f"{name}-v{version}.skops",
        content_type="application/octet-stream",
    )
    response[DIGEST_HEADER] = found.artifact_sha256
    return response
