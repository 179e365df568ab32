from __future__ import annotations

from typing import Any

from experiments import comparison
from experiments.metrics import MetricKind
from experiments.models import Experiment
from registry.selectors import RegistryFacts


def run(pk: int, config: dict[str, Any], metrics: dict[str, float] | None = None) -> Experiment:
    experiment = Experiment(pk=pk, name=f"e{pk}", config=config)
    experiment.scalar_metrics = metrics or {}
    return experiment


def test_it_finds_the_one_numeric_parameter_the_runs_differ_in() -> None:
    runs = [
        run(
            1, {"experiment_name": "a", "model": {"params": {"learning_rate": 0.1, "max_iter": 5}}}
        ),
        run(
            2, {"experiment_name": "b", "model": {"params": {"learning_rate": 0.3, "max_iter": 5}}}
        ),
    ]
    sweep = comparison.one_parameter_sweep(runs)
    assert sweep == comparison.Sweep("model.params.learning_rate", [0.1, 0.3])


def test_it_sees_no_sweep_in_booleans_text_or_missing_values() -> None:
    def pair(first: Any, second: Any) -> list[Experiment]:
        return [
            run(1, {"model": {"params": {"p": first}}}),
            run(2, {"model": {"params": {"p": second}}}),
        ]

    assert comparison.one_parameter_sweep(pair(True, False)) is None
    assert comparison.one_parameter_sweep(pair("balanced", None)) is None
    assert comparison.one_parameter_sweep(pair(1, 1)) is None
    assert comparison.one_parameter_sweep([run(1, {"a": 1}), run(2, {"b": 2})]) is None


def test_it_takes_the_production_experiment_as_the_default_baseline() -> None:
    facts = {1: RegistryFacts(), 2: RegistryFacts(stage="production"), 3: RegistryFacts()}
    assert comparison.default_baseline([1, 2, 3], facts) == 2
    assert comparison.default_baseline([3, 1], facts) == 3


def test_it_says_better_or_worse_only_where_the_direction_is_known() -> None:
    columns = [
        comparison.Column(run(1, {}, {"recall": 0.5, "n_iter": 10}), "#000", RegistryFacts(), True),
        comparison.Column(run(2, {}, {"recall": 0.4, "n_iter": 12}), "#111", RegistryFacts()),
    ]
    groups = {group.kind: group for group in comparison.metric_groups(columns, {})}
    recall = groups[MetricKind.QUALITY].rows[0].cells[1]
    assert (recall.delta, recall.relative, recall.trend) == ("-0.1000", "-20.00%", "worse")
    iterations = groups[MetricKind.COUNT].rows[0].cells[1]
    assert (iterations.text, iterations.delta, iterations.trend) == ("12", "+2", "")


def test_an_empty_section_is_not_a_config_row() -> None:
    """The probe: a row "gate {} {} not set {}" when some runs had `gate: {}`."""
    from experiments.comparison import flatten

    assert flatten({"gate": {}, "model": {"type": "x", "params": {}}}) == {"model.type": "x"}
