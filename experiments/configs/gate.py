"""The gate's grammar, shared by two documents:

- a config's optional `gate:` section, parsed into a GateRequest: what the
  experiment asks of the gate, which may only restate or tighten the policy;
- a registered model's gate policy (configs/gate_policy.yaml, the admin, the
  `gate_policy` command), parsed into a complete GateSpec within PolicyBounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from experiments.configs.errors import DOCUMENT, ConfigError
from experiments.configs.readers import (
    MISSING,
    NON_NEGATIVE,
    OPEN_UNIT,
    UNIT,
    Interval,
    Section,
    suggestion,
    type_name,
)
from experiments.configs.schema import GATE_METRICS, GateRequest, GateSpec, MetricRule
from experiments.configs.yaml_loader import load_yaml
from experiments.metrics import METRIC_DIRECTIONS

MAX_SEED = 2**32 - 1
GATE_KEYS = ("primary_metric", "min_positives", "bootstrap", "metrics")
BOOTSTRAP_KEYS = ("resamples", "confidence", "seed")
RULE_KEYS = ("greater_is_better", "threshold", "max_drop", "max_relative_drop")
MAX_MIN_POSITIVES = 1_000_000


@dataclass(frozen=True)
class PolicyBounds:
    """What no gate policy may leave. The lower bounds may be raised by settings
    (GATE_POLICY_MIN_RESAMPLES, GATE_POLICY_MIN_CONFIDENCE,
    GATE_POLICY_MIN_POSITIVES), never lowered below these defaults."""

    min_resamples: int = 200
    max_resamples: int = 20_000
    min_confidence: float = 0.80
    max_confidence: float = 0.999
    min_positives: int = 20
    # The loosest comparison with production the primary metric may have
    # (GATE_POLICY_MAX_DROP, GATE_POLICY_MAX_RELATIVE_DROP: settings may only
    # lower them), and the floors below which a threshold checks nothing: a
    # random model's ROC AUC is 0.5, its average precision the share of
    # positives (`positive_share`, when the model's data is known).
    max_drop: float = 0.10
    max_relative_drop: float = 0.50
    positive_share: float | None = None

    def __post_init__(self) -> None:
        if self.max_drop > PolicyBounds.max_drop or self.max_drop <= 0:
            raise ValueError("the loosest allowed max_drop must be in (0, 0.10]")
        if self.max_relative_drop > PolicyBounds.max_relative_drop or self.max_relative_drop <= 0:
            raise ValueError("the loosest allowed max_relative_drop must be in (0, 0.50]")
        # The class attributes are the dataclass defaults.
        if self.min_resamples < PolicyBounds.min_resamples:
            raise ValueError("the smallest allowed resamples cannot go below 200")
        if self.min_confidence < PolicyBounds.min_confidence:
            raise ValueError("the smallest allowed confidence cannot go below 0.80")
        if self.min_positives < PolicyBounds.min_positives:
            raise ValueError("the smallest allowed min_positives cannot go below 20")
        if self.min_resamples > self.max_resamples or self.min_confidence > self.max_confidence:
            raise ValueError("policy bounds: a lower bound is above its upper bound")


# ------------------------------------------------------------ config requests


def parse_gate_request(section: Section) -> GateRequest:
    """A config's `gate:` section; every key optional."""
    section.reject_unknown_keys(GATE_KEYS)
    bootstrap = section.section("bootstrap")
    bootstrap.reject_unknown_keys(BOOTSTRAP_KEYS)
    primary = section.raw("primary_metric", None)
    return GateRequest(
        primary_metric=_metric_name(section, primary) if primary is not None else None,
        min_positives=_optional_integer(section, "min_positives", Interval(1, MAX_MIN_POSITIVES)),
        resamples=_optional_integer(bootstrap, "resamples", Interval(low=1)),
        confidence=bootstrap.number("confidence", default=None, allowed=OPEN_UNIT),
        seed=_optional_integer(bootstrap, "seed", Interval(0, MAX_SEED)),
        rules=tuple(_parse_rules(section)),
    )


def _optional_integer(section: Section, key: str, allowed: Interval) -> int | None:
    if section.data.get(key) is None:
        return None
    return section.integer(key, default=0, allowed=allowed)


# ------------------------------------------------------------------ policies


def parse_gate_policy(document: Any, bounds: PolicyBounds) -> GateSpec:
    """A gate policy document (a mapping); raises ConfigError listing every problem."""
    if not isinstance(document, Mapping):
        raise ConfigError([(DOCUMENT, f"must be a mapping of keys, got {type_name(document)}")])
    errors: list[tuple[str, str]] = []
    root = Section(document, "", errors)
    spec = _parse_policy(root, bounds)
    if not errors:
        _require_comparison_and_floor(root, spec, bounds)
    if errors:
        raise ConfigError(errors)
    return spec


def load_gate_policy(text: str, bounds: PolicyBounds) -> GateSpec:
    """A gate policy written as YAML (or JSON, which is YAML)."""
    document = load_yaml(text)
    if document is None:
        raise ConfigError([(DOCUMENT, "is empty")])
    return parse_gate_policy(document, bounds)


def _parse_policy(root: Section, bounds: PolicyBounds) -> GateSpec:
    root.reject_unknown_keys(GATE_KEYS)
    defaults = GateSpec()
    primary = _metric_name(root, root.raw("primary_metric"))
    bootstrap = root.section("bootstrap")
    bootstrap.reject_unknown_keys(BOOTSTRAP_KEYS)
    resamples = Interval(bounds.min_resamples, bounds.max_resamples)
    confidence = Interval(bounds.min_confidence, bounds.max_confidence)
    positives = Interval(bounds.min_positives, MAX_MIN_POSITIVES)
    return GateSpec(
        primary_metric=primary if isinstance(primary, str) else defaults.primary_metric,
        rules=tuple(_parse_rules(root)),
        resamples=bootstrap.integer("resamples", default=defaults.resamples, allowed=resamples),
        confidence=bootstrap.number("confidence", default=defaults.confidence, allowed=confidence),
        seed=bootstrap.integer("seed", default=defaults.seed, allowed=Interval(0, MAX_SEED)),
        min_positives=root.integer(
            "min_positives", default=max(defaults.min_positives, bounds.min_positives),
            allowed=positives,
        ),
    )  # fmt: skip


def _require_comparison_and_floor(root: Section, spec: GateSpec, bounds: PolicyBounds) -> None:
    """A policy is a regression gate: its primary metric is compared with
    production, and at least one absolute floor binds a model's first version."""
    primary = spec.rule_for(spec.primary_metric)
    if primary is None or (primary.max_drop is None and primary.max_relative_drop is None):
        root.fail(
            f"metrics.{spec.primary_metric}",
            "the primary metric needs max_drop or max_relative_drop: the gate must compare "
            "the candidate with production",
        )
    if all(rule.threshold is None for rule in spec.rules):
        root.fail(
            "metrics",
            "set at least one absolute floor (threshold): it is all that binds a model's "
            "first version",
        )
    _refuse_checking_nothing(root, spec, bounds)


def _refuse_checking_nothing(root: Section, spec: GateSpec, bounds: PolicyBounds) -> None:
    """A comparison that lets any candidate through, or a floor that a random
    model clears, is no gate: refused with the bound it passes."""
    primary = spec.rule_for(spec.primary_metric)
    where = f"metrics.{spec.primary_metric}"
    if primary is not None and primary.max_drop is not None and primary.max_drop > bounds.max_drop:
        root.fail(
            f"{where}.max_drop",
            f"{primary.max_drop:g} lets a much worse candidate through: the primary metric's "
            f"max_drop may be at most {bounds.max_drop:g} (GATE_POLICY_MAX_DROP)",
        )
    relative = primary.max_relative_drop if primary is not None else None
    if relative is not None and relative > bounds.max_relative_drop:
        root.fail(
            f"{where}.max_relative_drop",
            f"{relative:g} lets a much worse candidate through: the primary metric's "
            f"max_relative_drop may be at most {bounds.max_relative_drop:g} "
            "(GATE_POLICY_MAX_RELATIVE_DROP)",
        )
    for rule in spec.rules:
        floor, why = _chance_floor(rule.metric, bounds)
        if rule.threshold is not None and floor is not None and rule.threshold <= floor:
            root.fail(
                f"metrics.{rule.metric}.threshold",
                f"{rule.threshold:g} checks nothing: {why} scores {floor:.4g}; "
                f"set a floor above it",
            )


def _chance_floor(metric: str, bounds: PolicyBounds) -> tuple[float | None, str]:
    """What a model that knows nothing scores on `metric`, and why."""
    if metric == "roc_auc":
        return 0.5, "a random model"
    if metric == "average_precision":
        if bounds.positive_share is None:
            return 0.0, "a model that knows nothing"
        return bounds.positive_share, "a random model on this model's data (its share of positives)"
    return None, ""


# -------------------------------------------------------------------- shared


def _metric_name(section: Section, value: Any) -> str | None:
    if value is MISSING:
        return None
    if not isinstance(value, str) or value not in GATE_METRICS:
        hint = suggestion(str(value), GATE_METRICS)
        known = ", ".join(sorted(GATE_METRICS))
        section.fail("primary_metric", f"unknown metric {value!r}{hint}; known: {known}")
        return None
    return value


def _parse_rules(gate: Section) -> list[MetricRule]:
    metrics = gate.section("metrics")
    metrics.reject_unknown_keys(sorted(GATE_METRICS))
    return [
        _parse_rule(metrics.section(name), name) for name in metrics.data if name in GATE_METRICS
    ]


def _parse_rule(section: Section, metric: str) -> MetricRule:
    section.reject_unknown_keys(RULE_KEYS)
    direction = METRIC_DIRECTIONS[metric]
    greater_is_better = section.flag("greater_is_better", default=direction)
    if greater_is_better != direction:
        section.fail("greater_is_better", f"{metric} is {_direction_word(direction)}")
    threshold_range = UNIT if metric != "log_loss" else NON_NEGATIVE
    rule = MetricRule(
        metric=metric,
        greater_is_better=direction,
        threshold=section.number("threshold", default=None, allowed=threshold_range),
        max_drop=section.number("max_drop", default=None, allowed=NON_NEGATIVE),
        max_relative_drop=section.number("max_relative_drop", default=None, allowed=UNIT),
    )
    _require_one_limit(section, rule)
    return rule


def _direction_word(greater_is_better: bool) -> str:
    return "higher-is-better" if greater_is_better else "lower-is-better"


def _require_one_limit(section: Section, rule: MetricRule) -> None:
    limits: tuple[float | None, ...] = (rule.threshold, rule.max_drop, rule.max_relative_drop)
    already_reported = any(path.startswith(section.path + ".") for path, _ in section.errors)
    if all(limit is None for limit in limits) and not already_reported:
        section.errors.append(
            (section.path, "set at least one of threshold, max_drop, max_relative_drop")
        )
