from __future__ import annotations

from experiments.models import Metric


def experiment_scalar_metrics(*, experiment_id: int) -> dict[str, float]:
    rows = Metric.objects.filter(experiment_id=experiment_id, step__isnull=True)
    return dict(rows.values_list("name", "value"))


def experiment_stepped_metrics(*, experiment_id: int) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    rows = Metric.objects.filter(experiment_id=experiment_id, step__isnull=False)
    for name, step, value in rows.order_by("name", "step").values_list("name", "step", "value"):
        series.setdefault(name, []).append((step, value))
    return series
