"""The compare page's content, from rows the selectors read: columns with
their registry facts, metric rows with deltas against a baseline column,
config differences and the one-parameter sweep. No queries in here.

Rules a reader of the page relies on:
- Only quality metrics (experiments.metrics.METRIC_DIRECTIONS) have a "best"
  cell; counts and timings are shown and differenced, never ranked.
- A quality metric's delta is how much better the column is than the
  baseline, in the metric's units: positive is better, whatever the
  direction (for log loss, baseline minus column), as in the gate report.
  Counts and timings have no better side: theirs is the plain difference.
- An interval appears only when a stored gate evaluation compared exactly
  this pair: the page never invents an uncertainty.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from experiments.metrics import (
    METRIC_DIRECTIONS,
    MetricKind,
    format_metric,
    format_metric_delta,
    metric_kind,
    metric_order,
)
from experiments.models import Experiment
from mlplatform import numbers
from registry.models import Stage
from registry.selectors import GateInterval, RegistryFacts

# Config keys that name or describe a run rather than change it.
DESCRIPTIVE_KEYS = frozenset({"experiment_name", "description", "registry.model_name"})
GROUP_TITLES = {
    MetricKind.QUALITY: "Quality",
    MetricKind.COUNT: "Counts",
    MetricKind.TIMING: "Timings",
    MetricKind.OTHER: "Other",
}


@dataclass(frozen=True)
class Column:
    experiment: Experiment
    color: str
    registry: RegistryFacts
    is_baseline: bool = False


def default_baseline(experiment_ids: Sequence[int], facts: dict[int, RegistryFacts]) -> int:
    """The production version's experiment when one is compared, else the first."""
    for pk in experiment_ids:
        if facts.get(pk, RegistryFacts()).stage == Stage.PRODUCTION:
            return pk
    return experiment_ids[0]


@dataclass(frozen=True)
class MetricCell:
    text: str
    best: bool = False
    delta: str = ""
    relative: str = ""
    trend: str = ""  # "better", "worse" or "" (unknown direction, or equal)
    interval: str = ""


@dataclass(frozen=True)
class MetricRow:
    name: str
    kind: MetricKind
    direction: str
    cells: list[MetricCell]


@dataclass(frozen=True)
class MetricGroup:
    title: str
    kind: MetricKind
    rows: list[MetricRow] = field(default_factory=list)


def _best(values: list[float | None], higher: bool) -> float | None:
    present = [value for value in values if value is not None]
    if len(present) < 2 or len(set(present)) == 1:
        return None
    return max(present) if higher else min(present)


def _trend(name: str, delta: float) -> str:
    """delta is improvement-oriented for quality metrics (positive: better)."""
    if name not in METRIC_DIRECTIONS or delta == 0:
        return ""
    return "better" if delta > 0 else "worse"


def _interval_text(interval: GateInterval | None) -> str:
    if interval is None:
        return ""
    return f"{interval.confidence:.0%} CI {numbers.interval(interval.low, interval.high)}"


def _cell(
    name: str,
    value: float | None,
    baseline: float | None,
    *,
    best: float | None,
    is_baseline: bool,
    interval: GateInterval | None,
) -> MetricCell:
    text = format_metric(name, value)
    is_best = best is not None and value == best
    if is_baseline or value is None or baseline is None:
        return MetricCell(text, best=is_best)
    if name in METRIC_DIRECTIONS:  # positive: the column is better, as in the gate
        delta = value - baseline if METRIC_DIRECTIONS[name] else baseline - value
    else:
        delta = value - baseline
    # A relative change says something about a score; about a row count it is noise.
    relative = delta / abs(baseline) if baseline and name in METRIC_DIRECTIONS else None
    return MetricCell(
        text,
        best=is_best,
        delta=format_metric_delta(name, delta) if delta else "no change",
        relative=numbers.relative_change(relative, value=value, base=baseline) if relative else "",
        trend=_trend(name, delta),
        interval=_interval_text(interval),
    )


def _direction(name: str) -> str:
    if name not in METRIC_DIRECTIONS:
        return ""
    return "higher is better" if METRIC_DIRECTIONS[name] else "lower is better"


def metric_groups(
    columns: list[Column], intervals: dict[int, dict[str, GateInterval]]
) -> list[MetricGroup]:
    """Rows by kind (quality, counts, timings, other), each with its deltas
    against the baseline column."""
    experiments = [column.experiment for column in columns]
    names = sorted({name for e in experiments for name in e.scalar_metrics}, key=metric_order)
    baseline = next(column.experiment for column in columns if column.is_baseline)
    groups = {kind: MetricGroup(GROUP_TITLES[kind], kind) for kind in MetricKind}
    for name in names:
        values = [experiment.scalar_metrics.get(name) for experiment in experiments]
        kind = metric_kind(name)
        best = _best(values, METRIC_DIRECTIONS[name]) if kind is MetricKind.QUALITY else None
        cells = [
            _cell(
                name,
                value,
                baseline.scalar_metrics.get(name),
                best=best,
                is_baseline=column.is_baseline,
                interval=intervals.get(column.experiment.pk, {}).get(name),
            )
            for column, value in zip(columns, values, strict=True)
        ]
        groups[kind].rows.append(MetricRow(name, kind, _direction(name), cells))
    return [group for group in groups.values() if group.rows]


# ------------------------------------------------------------------ config


@dataclass(frozen=True)
class ConfigCell:
    text: str
    absent: bool = False


@dataclass(frozen=True)
class ConfigRow:
    name: str
    cells: list[ConfigCell]
    differs: bool


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"model.params.C": 1.0, ...}. An empty section (a
    `gate: {}` that sets nothing) contributes nothing: its keys are "not set"
    like those of a run without the section."""
    if isinstance(config, dict):
        flat: dict[str, Any] = {}
        for key, value in config.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: config}


def _config_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def config_rows(experiments: list[Experiment]) -> list[ConfigRow]:
    flat = [flatten(experiment.config) for experiment in experiments]
    keys = sorted({key for config in flat for key in config})
    rows = []
    for key in keys:
        cells = [
            ConfigCell(_config_text(config[key])) if key in config else ConfigCell("", absent=True)
            for config in flat
        ]
        distinct = {(cell.text, cell.absent) for cell in cells}
        rows.append(ConfigRow(key, cells, len(distinct) > 1))
    return rows


# ------------------------------------------------------------------ sweeps


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Sweep:
    parameter: str
    values: list[float]  # one per experiment, in column order


def one_parameter_sweep(experiments: list[Experiment]) -> Sweep | None:
    """The runs differ in exactly one config key (names aside), numeric in
    every run: e.g. model.params.learning_rate. None otherwise."""
    flat = [flatten(experiment.config) for experiment in experiments]
    keys = {key for config in flat for key in config} - DESCRIPTIVE_KEYS
    differing = [key for key in keys if len({json.dumps(c.get(key)) for c in flat}) > 1]
    if len(differing) != 1:
        return None
    values = [_number(config.get(differing[0])) for config in flat]
    if any(value is None for value in values) or len(set(values)) < 2:
        return None
    return Sweep(differing[0], [float(value) for value in values if value is not None])


def sweep_metrics(experiments: list[Experiment], *, limit: int = 3) -> list[str]:
    """The quality metrics worth plotting against the parameter: recorded by
    at least two runs, primary ones first."""
    recorded = {name for e in experiments for name in e.scalar_metrics}
    names = [
        name
        for name in METRIC_DIRECTIONS
        if name in recorded and sum(name in e.scalar_metrics for e in experiments) >= 2
    ]
    return names[:limit]
