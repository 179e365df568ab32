"""The typed, frozen objects a parsed config is made of."""

from __future__ import annotations

import builtins
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
    def estimator_class(self) -> builtins.type:  # `type` is the field above, here
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
    fraction of the champion's value. None: no such limit."""

    metric: str
    greater_is_better: bool = True
    threshold: float | None = None
    max_drop: float | None = None
    max_relative_drop: float | None = None

    def to_dict(self) -> dict[str, Any]:
        limits = {limit: getattr(self, limit) for limit in RULE_LIMITS}
        return {"greater_is_better": self.greater_is_better, **limits}


RULE_LIMITS = ("threshold", "max_drop", "max_relative_drop")


def default_rule(metric: str) -> MetricRule:
    return MetricRule(
        metric=metric,
        greater_is_better=METRIC_DIRECTIONS[metric],
        max_drop=DEFAULT_MAX_DROP,
    )


@dataclass(frozen=True)
class GateSpec:
    """The complete rules the gate applies: a registered model's gate policy,
    possibly tightened by the candidate's config (registry.gate.policy)."""

    primary_metric: str = "average_precision"
    rules: tuple[MetricRule, ...] = (default_rule("average_precision"),)
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    min_positives: int = 20

    def rule_for(self, metric: str) -> MetricRule | None:
        return next((rule for rule in self.rules if rule.metric == metric), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "primary_metric": self.primary_metric,
            "min_positives": self.min_positives,
            "bootstrap": {
                "resamples": self.resamples,
                "confidence": self.confidence,
                "seed": self.seed,
            },
            "metrics": {rule.metric: rule.to_dict() for rule in self.rules},
        }


@dataclass(frozen=True)
class GateRequest:
    """What a config's optional `gate:` section asks of the gate. The rules
    themselves belong to the registered model's gate policy; a config may only
    restate or tighten them (registry.gate.policy.apply_request decides).
    None everywhere means "as the policy says"."""

    primary_metric: str | None = None
    min_positives: int | None = None
    resamples: int | None = None
    confidence: float | None = None
    seed: int | None = None
    rules: tuple[MetricRule, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == GateRequest()

    def to_dict(self) -> dict[str, Any]:
        bootstrap = {
            key: value
            for key, value in (
                ("resamples", self.resamples),
                ("confidence", self.confidence),
                ("seed", self.seed),
            )
            if value is not None
        }
        document: dict[str, Any] = {
            key: value
            for key, value in (
                ("primary_metric", self.primary_metric),
                ("min_positives", self.min_positives),
            )
            if value is not None
        }
        if bootstrap:
            document["bootstrap"] = bootstrap
        if self.rules:
            document["metrics"] = {
                rule.metric: {
                    limit: getattr(rule, limit)
                    for limit in RULE_LIMITS
                    if getattr(rule, limit) is not None
                }
                for rule in self.rules
            }
        return document


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
    gate: GateRequest = GateRequest()
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
            "gate": self.gate.to_dict(),
            "run": {"timeout_seconds": self.run.timeout_seconds},
        }
