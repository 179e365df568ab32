"""A candidate's gate request applied to its model's gate policy.

The policy is the model's; a config may restate any rule or make it stricter,
never looser. apply_request returns the rules the gate will apply, the
tightenings it accepted and the loosenings it refused, each as one line that
names the key path and both values. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # experiments.configs imports scikit-learn; the gate does not need it
    from experiments.configs import GateRequest, GateSpec, MetricRule

LIMIT_WORDS = {
    "threshold": "floor",
    "max_drop": "max_drop",
    "max_relative_drop": "max_relative_drop",
}


@dataclass(frozen=True)
class AppliedPolicy:
    spec: GateSpec
    tightenings: list[str] = field(default_factory=list)
    loosenings: list[str] = field(default_factory=list)


def apply_request(policy: GateSpec, request: GateRequest) -> AppliedPolicy:
    """The policy with the request's stricter values; every looser or different
    value is listed in `loosenings` (and the policy's value kept)."""
    tightenings: list[str] = []
    loosenings: list[str] = []
    for key, asked, fixed in (
        ("primary_metric", request.primary_metric, policy.primary_metric),
        ("bootstrap.resamples", request.resamples, policy.resamples),
        ("bootstrap.seed", request.seed, policy.seed),
    ):
        if asked is not None and asked != fixed:
            loosenings.append(f"gate.{key}: {asked} differs from the policy's {fixed}")
    spec = replace(
        policy,
        min_positives=_at_least(
            "gate.min_positives", policy.min_positives, request.min_positives,
            tightenings, loosenings,
        ),
        confidence=_at_least(
            "gate.bootstrap.confidence", policy.confidence, request.confidence,
            tightenings, loosenings,
        ),
        rules=_rules(policy, request, tightenings, loosenings),
    )  # fmt: skip
    return AppliedPolicy(spec=spec, tightenings=tightenings, loosenings=loosenings)


_Number = TypeVar("_Number", int, float)


def _at_least(
    key: str,
    policy_value: _Number,
    asked: _Number | None,
    tightenings: list[str],
    loosenings: list[str],
) -> _Number:
    if asked is None or asked == policy_value:
        return policy_value
    if asked < policy_value:
        loosenings.append(f"{key}: {asked:g} is below the policy's {policy_value:g}")
        return policy_value
    tightenings.append(f"{key}: {policy_value:g} -> {asked:g}")
    return asked


def _rules(
    policy: GateSpec, request: GateRequest, tightenings: list[str], loosenings: list[str]
) -> tuple[MetricRule, ...]:
    asked = {rule.metric: rule for rule in request.rules}
    rules = [
        _merged_rule(rule, asked.pop(rule.metric, None), tightenings, loosenings)
        for rule in policy.rules
    ]
    for rule in asked.values():  # a rule the policy does not have: an added check
        tightenings.append(f"gate.metrics.{rule.metric}: added ({_limits_text(rule)})")
        rules.append(rule)
    return tuple(rules)


def _merged_rule(
    rule: MetricRule, asked: MetricRule | None, tightenings: list[str], loosenings: list[str]
) -> MetricRule:
    if asked is None:
        return rule
    merged = rule
    for limit in LIMIT_WORDS:
        policy_value, asked_value = getattr(rule, limit), getattr(asked, limit)
        if asked_value is None or asked_value == policy_value:
            continue
        key = f"gate.metrics.{rule.metric}.{limit}"
        if policy_value is not None and not _stricter(rule, limit, asked_value, policy_value):
            loosenings.append(
                f"{key}: {asked_value:g} is looser than the policy's {policy_value:g}"
            )
            continue
        before = "none" if policy_value is None else f"{policy_value:g}"
        tightenings.append(f"{key}: {before} -> {asked_value:g}")
        merged = replace(merged, **{limit: asked_value})
    return merged


def _stricter(rule: MetricRule, limit: str, asked: float, policy_value: float) -> bool:
    if limit == "threshold" and rule.greater_is_better:
        return asked > policy_value  # a higher floor
    return asked < policy_value  # a lower ceiling, a smaller allowed drop


def _limits_text(rule: MetricRule) -> str:
    return ", ".join(
        f"{limit} {getattr(rule, limit):g}"
        for limit in LIMIT_WORDS
        if getattr(rule, limit) is not None
    )
