from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast, overload

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from rq.worker import Worker, WorkerStatus

from experiments import queue
from experiments.models import Experiment, ListColumns, Metric, Status
from registry.models import GateEvaluation

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def experiment_scalar_metrics(*, experiment_id: int) -> dict[str, float]:
    rows = Metric.objects.filter(experiment_id=experiment_id, step__isnull=True)
    return dict(rows.values_list("name", "value"))


def experiment_stepped_metrics(*, experiment_id: int) -> dict[str, list[tuple[int, float]]]:
    return stepped_metrics_by_experiment(experiment_ids=[experiment_id]).get(experiment_id, {})


def stepped_metrics_by_experiment(
    *, experiment_ids: list[int]
) -> dict[int, dict[str, list[tuple[int, float]]]]:
    """Experiment id -> name -> [(step, value), ...] in step order; one query."""
    series: dict[int, dict[str, list[tuple[int, float]]]] = {}
    rows = Metric.objects.filter(experiment_id__in=experiment_ids, step__isnull=False)
    ordered = rows.order_by("experiment_id", "name", "step")
    for experiment_id, name, step, value in ordered.values_list(
        "experiment_id", "name", "step", "value"
    ):
        step = cast(int, step)  # not NULL: step__isnull=False above
        series.setdefault(experiment_id, {}).setdefault(name, []).append((step, value))
    return series


# --------------------------------------------------------------- web pages

# Shown as columns in the experiment list (unless a user chose others) and on the dashboard.
KEY_METRICS = ("average_precision", "roc_auc", "f1")
# Sort keys of the experiment list that are columns, not metrics: key -> fields.
FIELD_SORTS: dict[str, tuple[str, ...]] = {
    "created": ("created_at",),
    "name": ("name",),
    "status": ("status",),
    "model": ("model_type",),
    "dataset": ("dataset_version__dataset__name", "dataset_version__version"),
    "submitted_by": ("created_by_name",),
    "duration": ("run_duration",),
}
# How long a run took; NULL until it has both started and finished.
RUN_DURATION = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())


def experiment_list_columns(*, user: User | AnonymousUser) -> tuple[str, ...]:
    """The metric columns `user` chose for the list, else KEY_METRICS."""
    if not user.is_authenticated:
        return KEY_METRICS
    chosen = ListColumns.objects.filter(user=user).values_list("metrics", flat=True).first()
    return KEY_METRICS if chosen is None else tuple(chosen)


def metric_value(name: str, *, experiment_ref: str = "pk") -> Subquery:
    """The experiment's scalar metric `name` as a subquery (uses the
    (experiment, name) unique index; None when it was not recorded)."""
    rows = Metric.objects.filter(
        experiment_id=OuterRef(experiment_ref), name=name, step__isnull=True
    )
    return Subquery(rows.order_by().values("value")[:1], output_field=FloatField())


def scalar_metric_names() -> list[str]:
    """Every scalar metric name any experiment recorded, for the sort menu.

    A loose index scan: one probe of the partial index metric_scalar_name_value
    per distinct name, where SELECT DISTINCT would read every metric row (a
    second per list page at a million metrics)."""
    table = connection.ops.quote_name(Metric._meta.db_table)
    sql = f"""
        WITH RECURSIVE names(name) AS (
            SELECT MIN(name) FROM {table} WHERE step IS NULL
            UNION ALL
            SELECT (
                SELECT MIN(later.name) FROM {table} later
                WHERE later.step IS NULL AND later.name > names.name
            )
            FROM names WHERE names.name IS NOT NULL
        )
        SELECT name FROM names WHERE name IS NOT NULL ORDER BY name
    """  # noqa: S608 - the only interpolation is the model's own table name
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [name for (name,) in cursor.fetchall()]


# Large fields no listing shows: decoding feature_columns and the dataset's
# columns alone took a third of the list page's time.
LIST_DEFERRED = (
    "config_text",
    "config",
    "curves",
    "holdout",
    "traceback",
    "environment",
    "feature_columns",
)


def experiment_list(
    *,
    status: str = "",
    dataset_version_id: int | None = None,
    model_type: str = "",
    name: str = "",
    tag: str = "",
    sort: str = "created",
    descending: bool = True,
    metrics: tuple[str, ...] = KEY_METRICS,
) -> QuerySet[Experiment] | MetricOrderedExperiments:
    """Filtered and sorted experiments with `metrics` annotated as
    `metric_<name>`, the run time as `run_duration` and their tags and note
    (`annotation`); sort is a FIELD_SORTS key or a metric name. Sorted by a
    metric, the result is a sequence for a Paginator, not a QuerySet."""
    lookups = {
        "status": status,
        "dataset_version_id": dataset_version_id,
        "model_type": model_type,
        "name__icontains": name,
        "annotation__tag_rows__name": tag,
    }
    lookups = {key: value for key, value in lookups.items() if value}
    rows = (
        Experiment.objects.filter(**lookups)
        .select_related("dataset_version__dataset", "annotation")
        .defer(
            *LIST_DEFERRED,
            "dataset_version__columns",
            "dataset_version__class_counts",
            "dataset_version__column_stats",
            "annotation__note",
        )
        .annotate(
            run_duration=RUN_DURATION,
            **{f"metric_{metric}": metric_value(metric) for metric in metrics},
        )
    )
    if sort in FIELD_SORTS:
        fields = [F(name) for name in FIELD_SORTS[sort]]
        ordering = [
            field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)
            for field in fields
        ]
        return rows.order_by(*ordering, _tiebreak(descending))
    return MetricOrderedExperiments(rows, lookups=lookups, metric=sort, descending=descending)


class MetricOrderedExperiments:
    """Experiments ordered by one scalar metric, then those without it (failed,
    running) by id, in the same direction. Each page is read from the index
    metric_scalar_name_value (name, value, experiment), walked from its end, so a
    page costs the same at ten thousand experiments as at a hundred; sorting
    every filtered experiment by a metric subquery took 40-50 ms at 10,000.
    Sliced by a Paginator: count() and [start:stop]; rows carry `sort_metric`."""

    def __init__(
        self, rows: QuerySet[Experiment], *, lookups: dict[str, Any], metric: str, descending: bool
    ) -> None:
        self.rows = rows.annotate(sort_metric=metric_value(metric))
        self.lookups = lookups
        self.metric = metric
        self.descending = descending

    @cached_property
    def _count(self) -> int:
        return self.rows.count()

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self[0 : self._count])

    @overload
    def __getitem__(self, index: int) -> Experiment: ...
    @overload
    def __getitem__(self, index: slice) -> list[Experiment]: ...
    def __getitem__(self, index: int | slice) -> Experiment | list[Experiment]:
        if isinstance(index, int):  # a Sequence's; the Paginator only slices
            if not 0 <= index < self._count:
                raise IndexError(index)
            return self[index : index + 1][0]
        start, stop = index.start or 0, min(index.stop, self._count)
        ids = list(self._with_metric()[start:stop]) if stop > start else []
        if len(ids) < stop - start:
            # This page reaches past the experiments that have the metric.
            skipped = max(0, start - self._with_metric().count()) if not ids else 0
            ids += self._without_metric()[skipped : skipped + stop - start - len(ids)]
        found = self.rows.in_bulk(ids)
        return [found[pk] for pk in ids]

    def _metric_rows(self) -> QuerySet[Metric]:
        related = {f"experiment__{key}": value for key, value in self.lookups.items()}
        return Metric.objects.filter(name=self.metric, step__isnull=True, **related)

    def _with_metric(self) -> QuerySet[Metric, int]:
        keys = ("-value", "-experiment_id") if self.descending else ("value", "experiment_id")
        return self._metric_rows().order_by(*keys).values_list("experiment_id", flat=True)

    def _without_metric(self) -> QuerySet[Experiment, int]:
        recorded = Metric.objects.filter(
            experiment_id=OuterRef("pk"), name=self.metric, step__isnull=True
        )
        rows = Experiment.objects.filter(~Exists(recorded), **self.lookups)
        return rows.order_by(_tiebreak(self.descending)).values_list("pk", flat=True)


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
    "phase_started_at",
    "progress_unit",
    "progress_done",
    "progress_total",
    "progress_at_most",
    "progress_detail",
    "progress_at",
    "registration",
    "registration_message",
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
    found: list[Experiment] = []
    for pk in experiment_ids:
        if pk in rows:
            experiment = rows[pk]
            experiment.scalar_metrics = {m.name: m.value for m in experiment.scalar_metric_rows}
            found.append(experiment)
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
