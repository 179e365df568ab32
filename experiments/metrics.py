"""Names of the metrics a model is judged by, and how every recorded metric
reads on a page or a terminal (no Django, no scikit-learn)."""

from __future__ import annotations

from enum import StrEnum

from mlplatform import numbers

# Metric name -> whether a larger value is better. The regression gate can
# compute every one of these from labels and scores.
METRIC_DIRECTIONS: dict[str, bool] = {
    "average_precision": True,
    "roc_auc": True,
    "log_loss": False,
    "precision": True,
    "recall": True,
    "f1": True,
    "accuracy": True,
}

# Whole numbers the engine records: confusion counts, row counts, iterations.
# They describe a run; none of them is better for being larger or smaller
# (an underfit model wins "fp = 0"), so no page ranks them.
COUNT_METRICS = frozenset(
    {"tp", "fp", "tn", "fn", "holdout_rows", "holdout_positives", "train_rows", "n_iter"}
)
# Seconds. Shown as durations, not ranked: the fastest model is often the useless one.
TIMING_METRICS = frozenset({"fit_time_seconds", "predict_time_seconds"})


class MetricKind(StrEnum):
    QUALITY = "quality"  # a direction is known: may be called best
    COUNT = "count"
    TIMING = "timing"
    OTHER = "other"


def metric_kind(name: str) -> MetricKind:
    if name in METRIC_DIRECTIONS:
        return MetricKind.QUALITY
    if name in COUNT_METRICS:
        return MetricKind.COUNT
    if name in TIMING_METRICS:
        return MetricKind.TIMING
    return MetricKind.OTHER


def format_metric(name: str, value: float | None) -> str:
    """How metric `name` reads everywhere: counts "3,304", timings "2.8 s",
    everything else "0.9622"."""
    kind = metric_kind(name)
    if kind is MetricKind.COUNT:
        return numbers.count(value)
    if kind is MetricKind.TIMING:
        return numbers.duration(value)
    return numbers.score(value)


def format_metric_delta(name: str, delta: float | None) -> str:
    """A signed difference of metric `name`: "+0.0123", "+1,204", "-0.3 s"."""
    kind = metric_kind(name)
    if kind is MetricKind.COUNT:
        return numbers.signed_count(delta)
    if kind is MetricKind.TIMING:
        return numbers.signed_duration(delta)
    return numbers.signed(delta)


KIND_TITLES = {
    MetricKind.QUALITY: "Quality",
    MetricKind.COUNT: "Counts",
    MetricKind.TIMING: "Timings",
    MetricKind.OTHER: "Other",
}


def metrics_grouped(metrics: dict[str, float]) -> list[tuple[str, list[tuple[str, float]]]]:
    """[(title, [(name, value), ...]), ...]: quality metrics first, in the
    gate's order, then counts, timings and the rest; empty groups left out.
    How every page lists one run's metrics."""
    groups: dict[MetricKind, list[tuple[str, float]]] = {}
    for name in sorted(metrics, key=metric_order):
        groups.setdefault(metric_kind(name), []).append((name, metrics[name]))
    return [(KIND_TITLES[kind], rows) for kind, rows in groups.items()]


def metric_order(name: str) -> tuple[int, int, str]:
    """Quality metrics first (in the gate's order), then counts, timings, the rest."""
    kinds = list(MetricKind)
    gate_order = list(METRIC_DIRECTIONS)
    position = gate_order.index(name) if name in gate_order else 0
    return (kinds.index(metric_kind(name)), position, name)
