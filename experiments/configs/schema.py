"""The typed, frozen objects a parsed config is made of."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from experiments.configs.estimators import MODEL_TYPES
from experiments.metrics import METRIC_DIRECTIONS

GATE_METRICS: frozenset[str] = frozenset(METRIC_DIRECTIONS)
DEFAULT_MAX_DROP = 0.02


@dataclass(frozen=True)
class DatasetRef:
    name: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class ModelSpec:
    type: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def estimator_class(self) -> type:
        return MODEL_TYPES[self.type]


@dataclass(frozen=True)
class SplitSpec:
    test_size: float = 0.2
    seed: int = 42


@dataclass(frozen=True)
class RegistrySpec:
    model_name: str | None = None


@dataclass(frozen=True)
class MetricRule:
    """threshold: absolute floor (ceiling when lower is better); max_drop: how much
    worse than the champion, in the metric's units; max_relative_drop: the same as a
    fraction of the champion's value."""

    metric: str
    greater_is_better: bool = True
    threshold: float | None = None
    max_drop: float | None = None
    max_relative_drop: float | None = None


def default_rule(metric: str) -> MetricRule:
    return MetricRule(
        metric=metric,
        greater_is_better=METRIC_DIRECTIONS[metric],
        max_drop=DEFAULT_MAX_DROP,
    )


@dataclass(frozen=True)
class GateSpec:
    primary_metric: str = "average_precision"
    rules: tuple[MetricRule, ...] = (default_rule("average_precision"),)
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    min_positives: int = 20

    def rule_for(self, metric: str) -> MetricRule | None:
        return next((rule for rule in self.rules if rule.metric == metric), None)


@dataclass(frozen=True)
class RunSpec:
    timeout_seconds: int = 3600


@dataclass(frozen=True)
class ExperimentConfig:
    experiment_name: str
    dataset: DatasetRef
    model: ModelSpec
    split: SplitSpec = SplitSpec()
    threshold: float = 0.5
    registry: RegistrySpec = RegistrySpec()
    gate: GateSpec = GateSpec()
    run: RunSpec = RunSpec()

    def to_dict(self) -> dict[str, Any]:
        """The parsed form with every default filled in; parse_config accepts it back."""
        return {
            "experiment_name": self.experiment_name,
            "dataset": {"name": self.dataset.name, "version": self.dataset.version},
            "model": {"type": self.model.type, "params": copy.deepcopy(dict(self.model.params))},
            "split": {"test_size": self.split.test_size, "seed": self.split.seed},
            "threshold": self.threshold,
            "registry": {"model_name": self.registry.model_name},
            "gate": _gate_to_dict(self.gate),
            "run": {"timeout_seconds": self.run.timeout_seconds},
        }


def _gate_to_dict(gate: GateSpec) -> dict[str, Any]:
    return {
        "primary_metric": gate.primary_metric,
        "min_positives": gate.min_positives,
        "bootstrap": {
            "resamples": gate.resamples,
            "confidence": gate.confidence,
            "seed": gate.seed,
        },
        "metrics": {
            rule.metric: {
                "greater_is_better": rule.greater_is_better,
                "threshold": rule.threshold,
                "max_drop": rule.max_drop,
                "max_relative_drop": rule.max_relative_drop,
            }
            for rule in gate.rules
        },
    }
