"""The compare page: metrics first, with deltas against a baseline column,
then the overlaid curves, the metric-versus-parameter view when the runs
differ in one number, and the config differences."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from experiments.comparison import (
    Column,
    config_rows,
    default_baseline,
    metric_groups,
    one_parameter_sweep,
    sweep_metrics,
)
from experiments.forms import CompareForm
from experiments.models import Experiment
from experiments.selectors import experiments_for_compare, stepped_metrics_by_experiment
from experiments.views.charts import (
    PALETTE,
    Chart,
    Run,
    SweepPoint,
    loss_chart,
    pr_chart,
    roc_chart,
    sweep_chart,
)
from registry.selectors import experiments_registry_facts, gate_intervals_against


def _label(experiment: Experiment) -> str:
    return f"#{experiment.pk} {experiment.name}"


def _columns(experiments: list[Experiment], baseline_id: int | None) -> list[Column]:
    ids = [experiment.pk for experiment in experiments]
    facts = experiments_registry_facts(experiment_ids=ids)
    baseline_id = baseline_id or default_baseline(ids, facts)
    return [
        Column(
            experiment=experiment,
            color=PALETTE[index % len(PALETTE)],
            registry=facts[experiment.pk],
            is_baseline=experiment.pk == baseline_id,
        )
        for index, experiment in enumerate(experiments)
    ]


def _charts(columns: list[Column]) -> list[Chart]:
    losses = stepped_metrics_by_experiment(experiment_ids=[c.experiment.pk for c in columns])
    runs = [
        Run(
            label=_label(column.experiment),
            curves=column.experiment.curves or {},
            metrics=column.experiment.scalar_metrics,
            losses=losses.get(column.experiment.pk, {}),
            color=column.color,
        )
        for column in columns
    ]
    charts = (pr_chart(runs, wide=True), roc_chart(runs, wide=True), loss_chart(runs, wide=True))
    return [chart for chart in charts if chart]


def _sweep(columns: list[Column]) -> dict[str, Any] | None:
    experiments = [column.experiment for column in columns]
    sweep = one_parameter_sweep(experiments)
    if sweep is None:
        return None
    charts = []
    for metric in sweep_metrics(experiments):
        points = [
            SweepPoint(
                value,
                column.experiment.scalar_metrics[metric],
                _label(column.experiment),
                column.color,
            )
            for column, value in zip(columns, sweep.values, strict=True)
            if metric in column.experiment.scalar_metrics
        ]
        chart = sweep_chart(points, parameter=sweep.parameter, metric=metric)
        if chart is not None:
            charts.append(chart)
    return {"parameter": sweep.parameter, "charts": charts} if charts else None


@login_required
@permission_required("experiments.view_experiment", raise_exception=True)
@require_GET
def experiment_compare(request: HttpRequest) -> HttpResponse:
    form = CompareForm(request.GET)
    if not form.is_valid():
        return render(request, "experiments/compare.html", {"form": form}, status=400)
    ids = form.cleaned_data["ids"]
    experiments = experiments_for_compare(experiment_ids=ids)
    if len(experiments) != len(ids):
        missing = sorted(set(ids) - {experiment.pk for experiment in experiments})
        raise Http404(f"no experiment {', '.join(f'#{pk}' for pk in missing)}")
    columns = _columns(experiments, form.cleaned_data["baseline"])
    baseline = next(column for column in columns if column.is_baseline)
    intervals = gate_intervals_against(
        baseline_experiment_id=baseline.experiment.pk, experiment_ids=ids
    )
    rows = config_rows(experiments)
    context = {
        "form": form,
        "columns": columns,
        "baseline": baseline,
        "metric_groups": metric_groups(columns, intervals),
        "charts": _charts(columns),
        "sweep": _sweep(columns),
        "config_rows": rows if form.all_config else [row for row in rows if row.differs],
        "config_row_total": len(rows),
        "config_difference_total": sum(row.differs for row in rows),
        "all_config": form.all_config,
        "has_intervals": bool(intervals),
    }
    return render(request, "experiments/compare.html", context)
