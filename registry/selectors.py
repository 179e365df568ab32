from __future__ import annotations

from django.db.models import Count, F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber

from experiments.selectors import KEY_METRICS, metric_value
from registry.models import (
    GateEvaluation,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageRequest,
    StageTransition,
)


def registered_models_with_versions() -> QuerySet[RegisteredModel]:
    versions = ModelVersion.objects.select_related("experiment", "registration_gate").order_by(
        "-version"
    )
    return RegisteredModel.objects.prefetch_related(Prefetch("versions", queryset=versions))


def pending_stage_requests() -> QuerySet[StageRequest]:
    return (
        StageRequest.objects.filter(status=StageRequest.Status.PENDING)
        .select_related("model_version__registered_model", "requested_by", "gate")
        .order_by("requested_at", "id")
    )


def latest_transitions(*, model_version_ids: list[int], limit: int = 5) -> dict[int, list]:
    """The newest decisions per version, for status listings."""
    by_version: dict[int, list[StageTransition]] = {}
    rows = (
        StageTransition.objects.filter(model_version_id__in=model_version_ids)
        .select_related("requested_by", "approved_by")
        .order_by("-created_at", "-id")
    )
    for transition in rows:
        entries = by_version.setdefault(transition.model_version_id, [])
        if len(entries) < limit:
            entries.append(transition)
    return by_version


# --------------------------------------------------------------- web pages


def _versions_with_metrics(stages: tuple[str, ...] | None = None) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.select_related("experiment", "registration_gate")
    if stages is not None:
        versions = versions.filter(stage__in=stages)
    metrics = {
        f"metric_{name}": metric_value(name, experiment_ref="experiment_id") for name in KEY_METRICS
    }
    return (
        versions.annotate(**metrics)
        .defer(
            "experiment__config_text",
            "experiment__config",
            "experiment__curves",
            "experiment__holdout",
            "experiment__traceback",
            "experiment__environment",
            "experiment__feature_columns",
            "registration_gate__report",
        )
        .order_by("-version")
    )


def registered_models_overview(
    *, stages: tuple[str, ...] | None = None
) -> QuerySet[RegisteredModel]:
    """Every model with its versions (only those in `stages` if given), each
    version annotated with the key metrics as `metric_<name>`."""
    versions = _versions_with_metrics(stages)
    return RegisteredModel.objects.prefetch_related(
        Prefetch("versions", queryset=versions, to_attr="listed_versions")
    ).order_by("name")


# The registry index lists these and the newest few others per model; each
# model's own page lists every version.
LIVE_STAGES = (Stage.PRODUCTION, Stage.STAGING)
INDEX_RECENT_VERSIONS = 5


def registered_models_index(*, recent: int = INDEX_RECENT_VERSIONS) -> list[RegisteredModel]:
    """Every model with, as `listed_versions` (newest first), its production
    and staging versions and its `recent` newest others; `unlisted_count` is
    how many more its own page shows. Three queries whatever the number of
    versions, and a page whose size does not grow with them."""
    newest_others = (
        _versions_with_metrics()
        .exclude(stage__in=LIVE_STAGES)
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("registered_model_id")],
                order_by=F("version").desc(),
            )
        )
        .filter(recency__lte=recent)
    )
    models = list(
        RegisteredModel.objects.annotate(version_count=Count("versions"))
        .prefetch_related(
            Prefetch("versions", queryset=_versions_with_metrics(LIVE_STAGES), to_attr="live"),
            Prefetch("versions", queryset=newest_others, to_attr="newest_others"),
        )
        .order_by("name")
    )
    for model in models:
        listed = sorted(model.live + model.newest_others, key=lambda v: v.version, reverse=True)
        model.listed_versions = listed
        model.unlisted_count = model.version_count - len(listed)
    return models


def registered_model_versions(*, model_name: str) -> RegisteredModel:
    """One model with all its versions and their key metrics; DoesNotExist if unknown."""
    return registered_models_overview().get(name=model_name)


def model_version_page(*, model_name: str, version: int) -> ModelVersion:
    """A version with its experiment, stage history, requests and every gate
    run on its experiment; DoesNotExist if unknown."""
    transitions = StageTransition.objects.select_related("requested_by", "approved_by")
    requests = StageRequest.objects.select_related(
        "requested_by", "decided_by", "gate__baseline_version"
    )
    gates = GateEvaluation.objects.select_related("baseline_version", "registered_model")
    return (
        ModelVersion.objects.select_related(
            "registered_model",
            "experiment__dataset_version__dataset",
            "created_by",
            "registration_gate",
        )
        .prefetch_related(
            Prefetch("transitions", queryset=transitions.order_by("-created_at", "-id")),
            Prefetch("stage_requests", queryset=requests.order_by("-requested_at", "-id")),
            Prefetch("experiment__gate_evaluations", queryset=gates.order_by("-created_at")),
        )
        .get(registered_model__name=model_name, version=version)
    )


# ---------------------------------------------------------------------- API


def stage_requests_list(*, status: str = "", model_name: str = "") -> QuerySet[StageRequest]:
    """Stage requests, newest first, optionally of one status and one model."""
    rows = StageRequest.objects.select_related(
        "model_version__registered_model", "requested_by", "decided_by", "gate"
    ).defer("gate__report")
    if status:
        rows = rows.filter(status=status)
    if model_name:
        rows = rows.filter(model_version__registered_model__name=model_name)
    return rows.order_by("-requested_at", "-id")


def stage_request_get(*, request_id: int) -> StageRequest:
    """One request with its gate run (report included); DoesNotExist if unknown."""
    return StageRequest.objects.select_related(
        "model_version__registered_model", "requested_by", "decided_by", "gate__baseline_version"
    ).get(pk=request_id)
