from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, FloatField, OuterRef, Prefetch, QuerySet, Subquery
from rq.worker import Worker, WorkerStatus

from experiments import queue
from experiments.models import Experiment, Metric, Status
from registry.models import GateEvaluation


def experiment_scalar_metrics(*, experiment_id: int) -> dict[str, float]:
    rows = Metric.objects.filter(experiment_id=experiment_id, step__isnull=True)
    return dict(rows.values_list("name", "value"))


def experiment_stepped_metrics(*, experiment_id: int) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    rows = Metric.objects.filter(experiment_id=experiment_id, step__isnull=False)
    for name, step, value in rows.order_by("name", "step").values_list("name", "step", "value"):
        series.setdefault(name, []).append((step, value))
    return series


# --------------------------------------------------------------- web pages

# Shown as columns in the experiment list and on the dashboard.
KEY_METRICS = ("average_precision", "roc_auc", "f1")
# Sort keys of the experiment list that are columns, not metrics.
FIELD_SORTS = {"created": "created_at", "name": "name", "status": "status", "model": "model_type"}


def metric_value(name: str, *, experiment_ref: str = "pk") -> Subquery:
    """The experiment's scalar metric `name` as a subquery (uses the
    (experiment, name) unique index; None when it was not recorded)."""
    rows = Metric.objects.filter(
        experiment_id=OuterRef(experiment_ref), name=name, step__isnull=True
    )
    return Subquery(rows.values("value")[:1], output_field=FloatField())


def scalar_metric_names() -> list[str]:
    """Every scalar metric name any experiment recorded, for the sort menu."""
    rows = Metric.objects.filter(step__isnull=True).values_list("name", flat=True)
    return list(rows.distinct().order_by("name"))


def experiment_list(
    *,
    status: str = "",
    dataset_version_id: int | None = None,
    model_type: str = "",
    name: str = "",
    sort: str = "created",
    descending: bool = True,
) -> QuerySet[Experiment]:
    """Filtered and sorted experiments with their key metrics annotated as
    `metric_<name>`; sort is a FIELD_SORTS key or a metric name."""
    rows = Experiment.objects.select_related("dataset_version__dataset").defer(
        "config_text", "config", "curves", "holdout", "traceback", "environment"
    )
    if status:
        rows = rows.filter(status=status)
    if dataset_version_id:
        rows = rows.filter(dataset_version_id=dataset_version_id)
    if model_type:
        rows = rows.filter(model_type=model_type)
    if name:
        rows = rows.filter(name__icontains=name)
    rows = rows.annotate(**{f"metric_{metric}": metric_value(metric) for metric in KEY_METRICS})
    if sort in FIELD_SORTS:
        field = F(FIELD_SORTS[sort])
        return rows.order_by(field.desc() if descending else field.asc(), _tiebreak(descending))
    # Any recorded metric; experiments without it (failed, running) go last either way.
    rows = rows.annotate(sort_metric=metric_value(sort))
    key = (
        F("sort_metric").desc(nulls_last=True)
        if descending
        else F("sort_metric").asc(nulls_last=True)
    )
    return rows.order_by(key, _tiebreak(descending))


def _tiebreak(descending: bool) -> str:
    return "-id" if descending else "id"


def experiment_detail(*, experiment_id: int) -> Experiment:
    """One experiment with everything its page shows; DoesNotExist if unknown."""
    gates = GateEvaluation.objects.select_related("registered_model", "baseline_version")
    return (
        Experiment.objects.select_related(
            "dataset_version__dataset", "created_by", "model_version__registered_model"
        )
        .prefetch_related(Prefetch("gate_evaluations", queryset=gates))
        .get(pk=experiment_id)
    )


# What the live status partial shows, and nothing else: it is polled every 2 s.
LIVE_STATUS_FIELDS = (
    "name",
    "status",
    "phase",
    "created_at",
    "enqueued_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "worker_name",
    "error_message",
)


def experiment_live_status(*, experiment_id: int) -> Experiment:
    return Experiment.objects.only(*LIVE_STATUS_FIELDS).get(pk=experiment_id)


def experiments_for_compare(*, experiment_ids: list[int]) -> list[Experiment]:
    """The experiments in the order asked for, each with `scalar_metrics`
    (name -> value); unknown ids are left out."""
    scalars = Metric.objects.filter(step__isnull=True).order_by("name")
    rows = (
        Experiment.objects.select_related("dataset_version__dataset")
        .prefetch_related(Prefetch("metrics", queryset=scalars, to_attr="scalar_metric_rows"))
        .defer("holdout", "traceback")
        .in_bulk(experiment_ids)
    )
    found = [rows[pk] for pk in experiment_ids if pk in rows]
    for experiment in found:
        experiment.scalar_metrics = {m.name: m.value for m in experiment.scalar_metric_rows}
    return found


def experiment_status_counts() -> dict[str, int]:
    """Status -> number of experiments, every status present (0 when none)."""
    counts = dict.fromkeys(Status.values, 0)
    rows = Experiment.objects.order_by().values_list("status").annotate(total=Count("id"))
    counts.update(dict(rows))
    return counts


def recent_experiments(*, limit: int = 10) -> list[Experiment]:
    return list(experiment_list()[:limit])


@dataclass(frozen=True)
class QueueOverview:
    available: bool
    depth: int = 0
    workers: int = 0
    busy_workers: int = 0
    message: str = ""


def training_queue_overview() -> QueueOverview:
    """Jobs waiting on the training queue and the workers alive; never raises
    when Redis is down (the dashboard says so instead)."""
    try:
        connection = queue.redis_connection()
        with queue.redis_errors_as_unavailable():
            depth = queue.training_queue(connection).count
            workers = Worker.all(connection=connection)
            busy = sum(1 for worker in workers if worker.get_state() == WorkerStatus.BUSY)
    except queue.QueueUnavailable as error:
        return QueueOverview(available=False, message=str(error))
    return QueueOverview(available=True, depth=depth, workers=len(workers), busy_workers=busy)
