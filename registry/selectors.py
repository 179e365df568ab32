from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, F, Prefetch, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from experiments.metrics import METRIC_DIRECTIONS
from experiments.selectors import KEY_METRICS, metric_value
from registry.models import (
    GateEvaluation,
    GatePolicy,
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
    """Open requests: waiting for their gate or for an approver (one who may
    override a failed gate, for gate_failed)."""
    return (
        StageRequest.objects.filter(
            status__in=(
                StageRequest.Status.GATING,
                StageRequest.Status.PENDING,
                StageRequest.Status.GATE_FAILED,
            )
        )
        .select_related("model_version__registered_model", "requested_by", "gate")
        .order_by("requested_at", "id")
    )


def latest_transitions(
    *, model_version_ids: list[int], limit: int = 5
) -> dict[int, list[StageTransition]]:
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
    versions = ModelVersion.objects.select_related("experiment", "registration_gate", "annotation")
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
            "annotation__note",
        )
        .order_by("-version")
    )


# Production first: on the dashboard the version serving now leads its model.
STAGE_ORDER = Case(
    When(stage=Stage.PRODUCTION, then=Value(0)),
    When(stage=Stage.STAGING, then=Value(1)),
    default=Value(2),
)


def registered_models_overview(
    *, stages: tuple[str, ...] | None = None, by_stage: bool = False
) -> QuerySet[RegisteredModel]:
    """Every model with its versions (only those in `stages` if given), each
    version annotated with the key metrics as `metric_<name>`; newest first,
    or with by_stage production, then staging, then the rest."""
    versions = _versions_with_metrics(stages)
    if by_stage:
        versions = versions.order_by(STAGE_ORDER, "-version")
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
    annotated = (
        RegisteredModel.objects.annotate(version_count=Count("versions"))
        .prefetch_related(
            Prefetch("versions", queryset=_versions_with_metrics(LIVE_STAGES), to_attr="live"),
            Prefetch("versions", queryset=newest_others, to_attr="newest_others"),
        )
        .order_by("name")
    )
    models: list[RegisteredModel] = []
    for model in annotated:
        listed = sorted(model.live + model.newest_others, key=lambda v: v.version, reverse=True)
        # What the other selectors prefetch into (to_attr="listed_versions"), built
        # by hand here; django-stubs knows it only from those prefetches.
        model.listed_versions = listed  # type: ignore[attr-defined]
        model.unlisted_count = model.version_count - len(listed)
        models.append(model)
    return models


def registered_model_versions(*, model_name: str, tag: str = "") -> RegisteredModel:
    """One model with all its versions (those tagged `tag` if given) and their
    key metrics; DoesNotExist if unknown."""
    versions = _versions_with_metrics()
    if tag:
        versions = versions.filter(annotation__tag_rows__name=tag)
    return RegisteredModel.objects.prefetch_related(
        Prefetch("versions", queryset=versions, to_attr="listed_versions")
    ).get(name=model_name)


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


def gate_policy_history(*, model_name: str) -> list[GatePolicy]:
    """Every version of a model's gate policy, newest first; raises
    RegisteredModel.DoesNotExist for an unknown model."""
    registered_model = RegisteredModel.objects.get(name=model_name)
    return list(
        registered_model.gate_policies.select_related("created_by", "registered_model").order_by(
            "-version"
        )
    )


def gate_policy_as_dict(policy: GatePolicy) -> dict[str, Any]:
    """One policy version as the command line and the API show it."""
    return {
        "model": policy.registered_model.name,
        "version": policy.version,
        "policy": policy.policy,
        "reason": policy.reason,
        "set_by": policy.created_by.get_username() if policy.created_by else policy.actor_label,
        "channel": policy.channel,
        "os_user": policy.os_user,
        "host": policy.host,
        "created_at": policy.created_at.isoformat(),
    }


# --------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class RegistryFacts:
    """What the registry knows about one experiment, for the compare page's
    column headers: its version and stage if registered, and the outcome of
    its registration gate (or, unregistered, of the newest gate run on it)."""

    model_name: str | None = None
    version: int | None = None
    stage: str | None = None
    gate_passed: bool | None = None

    @property
    def stage_label(self) -> str:
        return Stage(self.stage).label if self.stage else ""


def experiments_registry_facts(*, experiment_ids: list[int]) -> dict[int, RegistryFacts]:
    """Experiment id -> RegistryFacts, for every id (empty facts when the
    registry never saw it). Two queries whatever the number of ids."""
    versions = {
        version.experiment_id: version
        for version in ModelVersion.objects.filter(experiment_id__in=experiment_ids)
        .select_related("registered_model", "registration_gate")
        .only(
            "experiment_id",
            "version",
            "stage",
            "registered_model__name",
            "registration_gate__passed",
        )
    }
    newest_gates: dict[int, GateEvaluation] = {}
    gates = GateEvaluation.objects.filter(candidate_id__in=experiment_ids).select_related(
        "registered_model"
    )
    for evaluation in gates.only("candidate_id", "passed", "registered_model__name").order_by(
        "-created_at", "-id"
    ):
        newest_gates.setdefault(evaluation.candidate_id, evaluation)
    return {pk: _facts(versions.get(pk), newest_gates.get(pk)) for pk in experiment_ids}


def _facts(version: ModelVersion | None, gate: GateEvaluation | None) -> RegistryFacts:
    if version is not None:
        registration = version.registration_gate
        return RegistryFacts(
            model_name=version.registered_model.name,
            version=version.version,
            stage=version.stage,
            gate_passed=registration.passed if registration else None,
        )
    if gate is not None:
        return RegistryFacts(model_name=gate.registered_model.name, gate_passed=gate.passed)
    return RegistryFacts()


@dataclass(frozen=True)
class GateInterval:
    """A stored gate's bootstrap interval of how much better the column is
    than the baseline for one metric: the gate's own orientation, positive
    is better (so its signs read as in the gate report)."""

    low: float
    high: float
    confidence: float
    evaluation_id: int


def gate_intervals_against(
    *, baseline_experiment_id: int, experiment_ids: list[int]
) -> dict[int, dict[str, GateInterval]]:
    """For each experiment compared with the baseline: metric -> interval of
    (experiment - baseline), from the newest stored gate evaluation of that
    pair, in either direction (experiment gated against the baseline's
    version, or the baseline gated against the experiment's). One query."""
    others = [pk for pk in experiment_ids if pk != baseline_experiment_id]
    pairs = GateEvaluation.objects.filter(
        Q(candidate_id__in=others, baseline_version__experiment_id=baseline_experiment_id)
        | Q(candidate_id=baseline_experiment_id, baseline_version__experiment_id__in=others)
    ).select_related("baseline_version")
    found: dict[int, dict[str, GateInterval]] = {}
    for evaluation in pairs.order_by("-created_at", "-id"):
        reversed_pair = evaluation.candidate_id == baseline_experiment_id
        baseline = evaluation.baseline_version  # never NULL when reversed: see the query
        other = (
            baseline.experiment_id
            if reversed_pair and baseline is not None
            else evaluation.candidate_id
        )
        if other not in found:
            found[other] = _intervals(evaluation, reversed_pair=reversed_pair)
    return found


def _intervals(evaluation: GateEvaluation, *, reversed_pair: bool) -> dict[str, GateInterval]:
    report = evaluation.report if isinstance(evaluation.report, dict) else {}
    confidence = float(report.get("confidence") or 0.95)
    intervals = {}
    for entry in report.get("metrics") or []:
        low, high = entry.get("ci_low"), entry.get("ci_high")
        if not isinstance(low, int | float) or not isinstance(high, int | float):
            continue
        # The gate's delta is "candidate better" positive, as the page's is; a
        # pair gated the other way round reads from the other side.
        if reversed_pair:
            low, high = -high, -low
        intervals[entry["metric"]] = GateInterval(low, high, confidence, evaluation.pk)
    return intervals


# --------------------------------------------------------------- version page


def identical_versions(*, version: ModelVersion) -> list[ModelVersion]:
    """Other versions of the same model trained from the same config text on
    the same data file (equal config and dataset SHA-256): registering one
    again adds nothing an approver has not seen."""
    experiment = version.experiment
    return list(
        ModelVersion.objects.filter(
            registered_model_id=version.registered_model_id,
            experiment__config_sha256=experiment.config_sha256,
            experiment__dataset_version__sha256=experiment.dataset_version.sha256,
        )
        .exclude(pk=version.pk)
        .only("version", "stage", "registered_model_id")
        .order_by("version")
    )


def primary_metric_of(version: ModelVersion) -> str:
    """The primary metric of the model's gate policy in force."""
    policy = (
        GatePolicy.objects.filter(registered_model_id=version.registered_model_id)
        .order_by("-version")
        .values_list("policy", flat=True)
        .first()
    )
    metric = (policy or {}).get("primary_metric") or "average_precision"
    return metric if metric in METRIC_DIRECTIONS else "average_precision"


@dataclass(frozen=True)
class BetterVersion:
    version: int
    value: float


def better_staging_versions(
    *, version: ModelVersion, metric: str, value: float
) -> list[BetterVersion]:
    """Staging versions of the same model whose `metric` beats `value` (this
    version's), best first. One query."""
    own = value
    higher = METRIC_DIRECTIONS[metric]
    staging = (
        ModelVersion.objects.filter(
            registered_model_id=version.registered_model_id, stage=Stage.STAGING
        )
        .exclude(pk=version.pk)
        .annotate(value=metric_value(metric, experiment_ref="experiment_id"))
        .filter(**{"value__gt" if higher else "value__lt": own})
        .order_by("-value" if higher else "value", "-version")
    )
    return [BetterVersion(row.version, row.value) for row in staging.only("version")]


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
