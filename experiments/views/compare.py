from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from experiments.configs import METRIC_DIRECTIONS
from experiments.forms import CompareForm
from experiments.models import Experiment
from experiments.selectors import experiments_for_compare
from experiments.views.charts import PALETTE, pr_chart, roc_chart

# Metrics outside the gate's list whose better direction is still clear.
LOWER_IS_BETTER = frozenset({"fp", "fn", "fit_time_seconds", "predict_time_seconds"})
HIGHER_IS_BETTER = frozenset({"tp", "tn"})


def better_direction(metric: str) -> bool | None:
    """True when higher is better, False when lower is, None when neither
    (row counts, iterations): such rows get no highlight."""
    if metric in METRIC_DIRECTIONS:
        return METRIC_DIRECTIONS[metric]
    if metric in LOWER_IS_BETTER:
        return False
    if metric in HIGHER_IS_BETTER:
        return True
    return None


@dataclass(frozen=True)
class Cell:
    text: str
    best: bool = False


@dataclass(frozen=True)
class Row:
    name: str
    cells: list[Cell]
    differs: bool


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"model.params.C": 1.0, ...}."""
    if isinstance(config, dict) and config:
        flat: dict[str, Any] = {}
        for key, value in config.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: config}


def _config_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def config_rows(experiments: list[Experiment]) -> list[Row]:
    flat = [flatten(experiment.config) for experiment in experiments]
    keys = sorted({key for config in flat for key in config})
    rows = []
    for key in keys:
        values = [_config_text(config.get(key)) if key in config else "" for config in flat]
        rows.append(Row(key, [Cell(value) for value in values], len(set(values)) > 1))
    return rows


def _best(values: list[float | None], higher: bool | None) -> float | None:
    present = [value for value in values if value is not None]
    if higher is None or len(present) < 2 or len(set(present)) == 1:
        return None
    return max(present) if higher else min(present)


def _metric_order(name: str) -> tuple[int, str]:
    gate_order = list(METRIC_DIRECTIONS)
    return (gate_order.index(name), "") if name in gate_order else (len(gate_order), name)


def metric_rows(experiments: list[Experiment]) -> list[Row]:
    names = sorted({name for e in experiments for name in e.scalar_metrics}, key=_metric_order)
    rows = []
    for name in names:
        values = [experiment.scalar_metrics.get(name) for experiment in experiments]
        best = _best(values, better_direction(name))
        cells = [
            Cell("-" if value is None else f"{value:.6g}", best is not None and value == best)
            for value in values
        ]
        rows.append(Row(name, cells, len(set(values)) > 1))
    return rows


def _label(experiment: Experiment) -> str:
    return f"#{experiment.pk} {experiment.name}"


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
    only_differences = form.cleaned_data["only_differences"]
    rows = config_rows(experiments)
    curves = [(_label(experiment), experiment.curves or {}) for experiment in experiments]
    context = {
        "form": form,
        "experiments": experiments,
        "legend": [
            (experiment, PALETTE[index % len(PALETTE)])
            for index, experiment in enumerate(experiments)
        ],
        "config_rows": [row for row in rows if row.differs] if only_differences else rows,
        "config_row_total": len(rows),
        "only_differences": only_differences,
        "metric_rows": metric_rows(experiments),
        "charts": [chart for chart in (pr_chart(curves), roc_chart(curves)) if chart],
        "ids": ids,
    }
    return render(request, "experiments/compare.html", context)
